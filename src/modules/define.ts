/**
 * How a Skelly-Jelly module is written: an identity, the permissions the main process grants it,
 * and a `start` that gets the bus (an endpoint client) and returns something to stop. The same
 * definition runs unchanged as an Electron utility process or a worker thread.
 */
import type { z } from 'zod'
import type { MessageType } from '../shared/catalog.js'
import type { BusClient } from '../shared/client.js'
import type { JsonValue } from '../shared/json.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import type { Permissions, PermissionsOf } from '../shared/wire.js'
import type { ModuleOptionsSchema, moduleOptionSchemas } from './options.js'

export interface ModuleContext<Options> {
  /** A folder the module may write to (the app's data folder). */
  readonly dataDir: string
  /**
   * Start-up options from the host (rates, intervals …), parsed by the module's `options` schema,
   * defaults filled in; ConfigUpdate messages change some of them later.
   */
  readonly options: Readonly<Options>
  readonly log: (message: string) => void
}

export interface RunningModule {
  /** Stops timers and flushes state; called on Shutdown before the connection closes. */
  stop(): Promise<void> | void
  /**
   * Applies a ConfigUpdate addressed to this module (or to all). Returns whether `key` is one of
   * this module's settings; throws, saying what the setting takes, for a value it refuses. The
   * runner answers both a refusal and an unknown key sent to this module by name with an Error
   * message, so whoever sent the update learns it did not apply.
   */
  configure?(key: string, value: JsonValue): boolean
}

/** A module, written once and run unchanged as a worker thread or an Electron utility process. */
export interface ModuleDefinition<Options extends ModuleOptionsSchema = ModuleOptionsSchema> {
  /** The module's identity on the bus (a `ModuleId`). */
  readonly id: string
  /** What the module needs; the host grants exactly this (plus the lifecycle messages). */
  readonly permissions: PermissionsOf<MessageType>
  /** The start-up options it takes (see `moduleOptionSchemas`); without it, none. */
  readonly options?: Options
  /**
   * The modules a host starts it after, once each that runs has said `ModuleReady` (its
   * subscriptions made): what it publishes from its start then reaches them rather than no one.
   * Their ids are the hosts' modules', so a misspelt one does not compile.
   */
  readonly startsAfter?: readonly (keyof typeof moduleOptionSchemas)[]
  /** Starts the module on its bus connection; the host publishes its `ModuleReady` once this settles. */
  start(bus: BusClient, context: ModuleContext<z.output<Options>>): Promise<RunningModule> | RunningModule
}

/** Declares a module (an identity function that keeps the definition's types). */
export function defineModule<Options extends ModuleOptionsSchema>(
  definition: ModuleDefinition<Options>,
): ModuleDefinition<Options> {
  return definition
}

function withTypes(list: PermissionsOf<string>['publish'], types: string[]): Permissions['publish'] {
  return list === '*' ? '*' : [...new Set([...list, ...types])]
}

/** The module's permissions plus what every module needs to take part in the lifecycle. */
export function lifecyclePermissions(definition: ModuleDefinition): Permissions {
  return {
    ...definition.permissions,
    publish: withTypes(definition.permissions.publish, ['ModuleReady', 'HealthCheck', 'Error']),
    subscribe: withTypes(definition.permissions.subscribe, ['HealthCheck', 'ConfigUpdate', 'Shutdown']),
  }
}

/**
 * The payload of an `Error` message a module publishes about itself (a refused setting, skipped
 * publishes): a fresh id, the module, now, and what the reader needs in `context`.
 */
export function moduleError(module: string, errorType: string, message: string, context: JsonValue) {
  return MessagePayload.Error({
    errorId: crypto.randomUUID(),
    errorType,
    message,
    module,
    timestamp: new Date(),
    context,
  })
}

/** An `Error` message a module (or the main process, as the Orchestrator) publishes about itself, from itself. */
export function errorReport(module: string, errorType: string, message: string, context: JsonValue) {
  return BusMessage.create(module, moduleError(module, errorType, message, context))
}
