/**
 * What every module does besides its own job, whichever runner hosts it: announce itself with
 * ModuleReady, answer the orchestrator's health checks, apply ConfigUpdates addressed to it, and
 * stop cleanly on Shutdown.
 */

import { type ConfigUpdate, ModuleId } from '../shared/catalog.js'
import { connectBus } from '../shared/client.js'
import { DeliveryMode } from '../shared/delivery-mode.js'
import { describeThrown, EventBusError, firstIssue } from '../shared/errors.js'
import { MessageFilter } from '../shared/filter.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import type { Port } from '../shared/port.js'
import { type ModuleDefinition, moduleError, type RunningModule } from './define.js'
import { noOptions } from './options.js'

/**
 * Applies a ConfigUpdate if it is for this module; returns why it did not apply, when it should
 * have: a value the module refused, or a key it does not have in an update sent to it by name (one
 * sent to all may carry other modules' keys).
 */
function configure(running: RunningModule, module: string, update: ConfigUpdate): string | undefined {
  const { configKey, configValue, targetModule } = update
  if (targetModule !== undefined && targetModule !== module) return undefined
  try {
    const known = running.configure?.(configKey, configValue) ?? false
    return known || targetModule === undefined ? undefined : `${module} has no setting '${configKey}'`
  } catch (error) {
    return error instanceof Error ? error.message : describeThrown(error)
  }
}

export interface RunOptions {
  dataDir: string
  /** The module's start-up options, checked against its `options` schema. */
  options: Readonly<Record<string, unknown>>
}

/**
 * Connects `definition` to the hub over `port` and runs it until Shutdown (resolves then) or until
 * the connection is lost (rejects).
 * @throws EventBusError `Configuration` (by rejecting, before it connects) for an option the module
 * does not take or a value it refuses; the hub's refusal (`Unauthorized`, say) of the subscription
 * its HealthChecks, ConfigUpdates and Shutdown come by, or `Disconnected` for a hub lost before the
 * module said it was ready (in either case once the module's `stop()` has run and its connection is
 * closed)
 */
export async function runModule(definition: ModuleDefinition, port: Port, run: RunOptions): Promise<void> {
  const schema = definition.options ?? noOptions
  const parsed = schema.safeParse(run.options)
  if (!parsed.success) {
    throw EventBusError.of('Configuration', {
      reason: firstIssue(parsed.error, `${definition.id}'s options`),
    })
  }
  const bus = await connectBus(port, { module: definition.id })
  const log = (message: string) => console.log(`[${definition.id}] ${message}`)
  const running = await definition.start(bus, { dataDir: run.dataDir, options: parsed.data, log })
  /**
   * `stopping` from the moment its own Shutdown is taken: a ConfigUpdate handled beside it (the
   * subscription runs several handlers at once) would restart what `stop()` is ending, a timer that
   * kept it alive. `stopped` once that Shutdown has been handled: the close that follows is its own.
   */
  let phase: 'running' | 'stopping' | 'stopped' = 'running'
  const stopped = new Promise<void>((resolve, reject) => {
    bus.onClose((reason) => (phase === 'stopped' ? resolve() : reject(new Error(`lost the hub: ${reason}`))))
  })
  // A hub lost before the module is ready ends the run by the refusal awaited below instead.
  stopped.catch(() => {})
  // HealthChecks answered, ConfigUpdates applied or refused, and its own Shutdown taken.
  const answerOrchestrator = async (message: BusMessage<'HealthCheck' | 'ConfigUpdate' | 'Shutdown'>) => {
    const { payload } = message
    if (payload.type === 'HealthCheck' && payload.data.moduleId === definition.id) {
      await bus.publish(
        BusMessage.replyTo(
          message,
          definition.id,
          MessagePayload.HealthCheck({ moduleId: definition.id, timestamp: new Date() }),
        ),
      )
    } else if (payload.type === 'ConfigUpdate') {
      const refusal =
        phase !== 'running'
          ? `${definition.id} is shutting down`
          : configure(running, definition.id, payload.data)
      if (refusal === undefined) return
      log(`config not applied: ${refusal}`)
      await bus.publish(
        BusMessage.replyTo(
          message,
          definition.id,
          moduleError(definition.id, 'ConfigRejected', refusal, {
            configKey: payload.data.configKey,
            configValue: payload.data.configValue,
          }),
        ),
      )
    } else if (payload.type === 'Shutdown' && payload.data.moduleId === definition.id) {
      phase = 'stopping'
      log('shutting down')
      await running.stop()
      // Closed once this handler has returned, so its ack goes out with the close, as do those
      // of the other modules' Shutdowns delivered beside it: a clean stop drops no copy.
      phase = 'stopped'
      setImmediate(() => void bus.close())
    }
  }
  // Awaited: a module the hub will not let hear its HealthChecks and Shutdown fails to start (its
  // runner ends with the refusal, which the supervisor records), rather than run unable to stop;
  // what its start began is stopped and its connection closed, whatever the runner does next.
  await bus
    .subscribe(
      definition.id,
      // The main process's orchestrator alone asks: every module answers HealthChecks on the bus,
      // and each module would otherwise be sent every other one's answers (N² copies a round).
      MessageFilter.typesAndSources(['HealthCheck', 'ConfigUpdate', 'Shutdown'], [ModuleId.Orchestrator]),
      DeliveryMode.BestEffort,
      answerOrchestrator,
      { label: 'health checks, config, shutdown' },
    )
    .catch(async (refusal: unknown) => {
      await running.stop()
      await bus.close()
      throw refusal
    })
  await bus.publish(BusMessage.create(definition.id, MessagePayload.ModuleReady(definition.id)))
  log('ready')
  return stopped
}
