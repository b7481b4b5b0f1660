/**
 * The bus both hosts run, with its durable dead letters (`dead-letters.jsonl` in the data folder).
 * The dead-letter log's warnings (a write that failed, the log rewritten after it) go to the
 * console and, once the bus runs, onto the bus as an `Error` from the Orchestrator, the main
 * process's identity there, so the inspector's Modules view shows them under it. A log recovered as
 * the bus starts is said in the console alone: the bus cannot publish yet.
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
}

/** Creates (does not start) the host's bus on `dataDir`. */
export function createHostBus(dataDir: string, config: EventBusConfigInput = {}): HostBus {
  let bus: EventBus | undefined
  const deadLetterLog = createDeadLetterLog({
    path: join(dataDir, 'dead-letters.jsonl'),
    warn: (message) => {
      console.warn(message)
      if (bus?.state !== 'running') return
      // Said in the console already; a bus that stops meanwhile cannot take it, and need not.
      bus.publish(errorReport(ModuleId.Orchestrator, 'DeadLetterLog', message, { dataDir })).catch(() => {})
    },
  })
  bus = createEventBus({ ...config, deadLetterPersistence: deadLetterLog })
  return { bus, deadLetterLog }
}
