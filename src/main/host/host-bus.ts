/**
 * The bus both hosts run, with its durable dead letters (`dead-letters.jsonl` in the data folder).
 * The dead-letter log's warnings (a log recovered cut short or corrupt at start, a write that
 * failed, the log rewritten after it) go to the console and onto the bus as an `Error` from the
 * Orchestrator, the main process's identity there, so the inspector's Modules view shows them under
 * it. A warning made before the Orchestrator is registered on a running bus (a recovery happens
 * while the bus starts) is held until the host calls `reportHeldWarnings()`.
 */
import { join } from 'node:path'
import { errorReport } from '../../modules/define.js'
import { ModuleId } from '../../shared/catalog.js'
import { createEventBus, type EventBus, type EventBusConfigInput } from '../bus/index.js'
import { createDeadLetterLog, type DeadLetterLog } from './dead-letter-log.js'

export interface HostBus {
  readonly bus: EventBus
  /** To close once the bus has shut down. */
  readonly deadLetterLog: DeadLetterLog
  /**
   * Publishes the dead-letter log's warnings held until now. Call it once the Orchestrator is
   * registered (`startOrchestrator`): the registry keeps errors of registered modules only.
   */
  reportHeldWarnings(): void
}

/** Creates (does not start) the host's bus on `dataDir`. */
export function createHostBus(dataDir: string, config: EventBusConfigInput = {}): HostBus {
  let bus: EventBus | undefined
  let held: string[] | undefined = []
  const report = (message: string) => {
    // Said in the console already; a bus that stops meanwhile cannot take it, and need not.
    bus?.publish(errorReport(ModuleId.Orchestrator, 'DeadLetterLog', message, { dataDir })).catch(() => {})
  }
  const deadLetterLog = createDeadLetterLog({
    path: join(dataDir, 'dead-letters.jsonl'),
    warn: (message) => {
      console.warn(message)
      if (held !== undefined) held.push(message)
      else if (bus?.state === 'running') report(message)
    },
  })
  bus = createEventBus({ ...config, deadLetterPersistence: deadLetterLog })
  return {
    bus,
    deadLetterLog,
    reportHeldWarnings() {
      const messages = held ?? []
      held = undefined
      for (const message of messages) report(message)
    },
  }
}
