/**
 * The Orchestrator, in the main process: checks modules' health periodically (HealthCheck requests,
 * answered by each module), marks silent ones Degraded, sends ConfigUpdates and asks modules to
 * shut down gracefully.
 */

import { ModuleId } from '../../shared/catalog.js'
import type { JsonValue } from '../../shared/json.js'
import { BusMessage, MessagePayload } from '../../shared/message.js'
import { awakeInterval } from '../../shared/peer-timers.js'
import type { EventBus } from '../bus/index.js'
import { ModuleStatus } from '../bus/registry.js'

export interface OrchestratorOptions {
  /** How often modules are asked for their health (ms, default 5000). */
  healthIntervalMs?: number
}

export interface Orchestrator {
  /**
   * Publishes a ConfigUpdate, to one module or to all; resolves with its message id. A module that
   * cannot apply it (a value it refuses, or a key it lacks in an update sent to it by name) answers
   * with an `Error` message (`errorType: 'ConfigRejected'`) whose `correlationId` is that id.
   */
  configure(configKey: string, configValue: JsonValue, targetModule?: string): Promise<string>
  /** Asks a module to stop (Shutdown); the host waits for its process to end. */
  requestShutdown(moduleId: string, timeoutMs: number): Promise<void>
  stop(): void
}

/** Health checks missed before a Healthy module is marked Degraded. */
const MISSED_CHECKS = 3

export function startOrchestrator(bus: EventBus, options: OrchestratorOptions = {}): Orchestrator {
  const intervalMs = options.healthIntervalMs ?? 5000
  bus.registry.setStatus(ModuleId.Orchestrator, ModuleStatus.Healthy)
  const publish = (payload: Parameters<typeof BusMessage.create>[1]) =>
    bus.publish(BusMessage.create(ModuleId.Orchestrator, payload as never))

  // Registry times are wall-clock Dates, stamped by each module, and the wall clock may step (a
  // time sync, a user's change): a module's silence is how long, on the monotonic clock, its last
  // answer has stayed the same. A round right after the main process was away (busy, or the
  // machine asleep) judges no one: it asked nothing meanwhile, and answers may wait unread.
  const lastAnswers = new Map<string, { answeredAt: number | undefined; seenAt: number }>()
  const stopChecks = awakeInterval(intervalMs, (now, away) => {
    for (const module of bus.registry.list()) {
      if (module.moduleId === ModuleId.Orchestrator) continue
      if (module.status !== ModuleStatus.Healthy && module.status !== ModuleStatus.Degraded) {
        // Stopped, or starting again: judged afresh once it is back (the registry forgets no one).
        lastAnswers.delete(module.moduleId)
        continue
      }
      const answeredAt = module.lastHealthCheck?.getTime()
      let last = lastAnswers.get(module.moduleId)
      if (last === undefined || last.answeredAt !== answeredAt) {
        last = { answeredAt, seenAt: now }
        lastAnswers.set(module.moduleId, last)
      }
      const silent = now - last.seenAt > intervalMs * MISSED_CHECKS
      if (!away && silent && module.status === ModuleStatus.Healthy)
        bus.registry.setStatus(module.moduleId, ModuleStatus.Degraded)
      if (!silent && module.status === ModuleStatus.Degraded)
        bus.registry.setStatus(module.moduleId, ModuleStatus.Healthy)
      // A check the bus refuses (a full queue, the bus shutting down) goes unanswered, and the
      // module's silence is what the next rounds judge: nothing is lost by not saying it here.
      publish(MessagePayload.HealthCheck({ moduleId: module.moduleId, timestamp: new Date() })).catch(
        () => {},
      )
    }
  })

  return {
    configure: (configKey, configValue, targetModule) =>
      publish(
        MessagePayload.ConfigUpdate({
          configKey,
          configValue,
          ...(targetModule === undefined ? {} : { targetModule }),
        }),
      ),
    requestShutdown: (moduleId, timeoutMs) => {
      bus.registry.setStatus(moduleId, ModuleStatus.ShuttingDown)
      return publish(MessagePayload.Shutdown({ moduleId, timeoutMs, saveState: true })).then(() => undefined)
    },
    stop: stopChecks,
  }
}
