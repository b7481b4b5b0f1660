/**
 * The order the modules start in: a module whose definition names modules it starts after
 * (`startsAfter`) waits until each of them that runs has said `ModuleReady`, so that what it
 * publishes from its first moment reaches their subscriptions instead of going to no one. The
 * others start at once.
 */
import { moduleDefinitions } from '../../modules/index.js'
import { DeliveryMode, type EventBus, MessageFilter, ModuleId } from '../bus/index.js'

/**
 * How long a module waits for those it starts after before it starts anyway: one that never gets
 * ready (it crashes at start, say) must not keep the others off for good.
 */
export const START_AFTER_WAIT_MS = 10_000

/**
 * Starts each of `moduleIds` through `start`, in the order their definitions ask (see the module
 * comment), waiting at most {@link START_AFTER_WAIT_MS}.
 * @returns a function that stops waiting: what still waits is never started
 */
export function startInOrder(
  bus: EventBus,
  moduleIds: readonly string[],
  start: (moduleId: string) => void,
): () => void {
  const waiting = new Map<string, Set<string>>()
  for (const moduleId of moduleIds) {
    const before = (moduleDefinitions[moduleId]?.startsAfter ?? []).filter((other) =>
      moduleIds.includes(other),
    )
    if (before.length === 0) start(moduleId)
    else waiting.set(moduleId, new Set(before))
  }
  if (waiting.size === 0) return () => {}

  // Refused, the bus is shutting down: what waits is never started, and no timer outlives the bus.
  const subscribed = bus
    .subscribe(
      ModuleId.Orchestrator,
      MessageFilter.types(['ModuleReady']),
      DeliveryMode.BestEffort,
      (message) => {
        for (const [moduleId, before] of waiting) {
          before.delete(message.source)
          if (before.size > 0) continue
          waiting.delete(moduleId)
          start(moduleId)
        }
        if (waiting.size === 0) stopWaiting()
      },
      { label: 'start order' },
    )
    .catch(() => {
      stopWaiting()
      return undefined
    })
  const timer = setTimeout(() => {
    const late = [...waiting.entries()].map(([moduleId, before]) => ({ moduleId, before: [...before] }))
    stopWaiting()
    for (const { moduleId, before } of late) {
      console.warn(
        `${moduleId} starts without ${before.join(', ')}, not ready after ${START_AFTER_WAIT_MS / 1000} s: ` +
          'what it publishes before they subscribe goes to no one',
      )
      start(moduleId)
    }
  }, START_AFTER_WAIT_MS)

  function stopWaiting(): void {
    clearTimeout(timer)
    // A ModuleReady delivered before the subscription has ended then starts nothing either.
    waiting.clear()
    // An unsubscribe a shutting-down bus refuses is moot: the subscription ends with the bus.
    subscribed.then((id) => (id === undefined ? undefined : bus.unsubscribe(id))).catch(() => {})
  }
  return stopWaiting
}
