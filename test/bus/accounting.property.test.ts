/**
 * The accounting invariant under randomized workloads: after the bus is quiet, every copy routed to
 * a subscription was delivered, dropped, coalesced or dead-lettered, and the bus-wide counters
 * agree with the per-subscription ones.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createEventBus, DeliveryMode, type MessagePriority, ModuleId } from '../../src/main/bus/index.js'
import { advance, behave, type HandlerBehaviour, rawMessage, useFakeClock } from '../helpers.js'

const behaviour = fc.constantFrom<HandlerBehaviour>('ok', 'throw', 'reject', 'hang', 'slow', 'broken-then')

const subscriptionSpec = fc.record({
  mode: fc.constantFrom('BestEffort', 'Reliable', 'LatestOnly'),
  behaviours: fc.array(behaviour, { minLength: 1, maxLength: 5 }),
  minPriority: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
})

const workload = fc.record({
  maxQueueSize: fc.integer({ min: 1, max: 8 }),
  workers: fc.integer({ min: 1, max: 3 }),
  maxRetryAttempts: fc.integer({ min: 0, max: 2 }),
  subscriptions: fc.array(subscriptionSpec, { minLength: 1, maxLength: 4 }),
  publishes: fc.array(
    fc.record({
      priority: fc.integer({ min: 0, max: 3 }),
      variant: fc.integer({ min: 0, max: 2 }),
      gapMs: fc.nat(30),
    }),
    { minLength: 1, maxLength: 40, size: 'max' },
  ),
  unsubscribeAfter: fc.option(fc.nat(40), { nil: undefined }),
})

function handlerFor(behaviours: HandlerBehaviour[]) {
  let call = 0
  return (): unknown => behave(behaviours[call++ % behaviours.length] as HandlerBehaviour)
}

describe('accounting invariant', () => {
  beforeEach(() => {
    useFakeClock()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('routed = delivered + dropped + coalesced + dead-lettered, for every subscription', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (w) => {
        const bus = createEventBus({
          maxQueueSize: w.maxQueueSize,
          workers: w.workers,
          maxRetryAttempts: w.maxRetryAttempts,
          deliveryTimeoutMs: 50,
          retry: { initialMs: 5, maxMs: 20, multiplier: 2, jitter: 0.5 },
        })
        await bus.start()
        const ids: string[] = []
        for (const spec of w.subscriptions) {
          const mode =
            spec.mode === 'Reliable' ? DeliveryMode.Reliable({ timeoutMs: 40 }) : { kind: spec.mode }
          const filter =
            spec.minPriority === undefined ? {} : { minPriority: spec.minPriority as MessagePriority }
          ids.push(
            await bus.subscribe(ModuleId.Storage, filter, mode as DeliveryMode, handlerFor(spec.behaviours)),
          )
        }
        let accepted = 0
        let refused = 0
        for (const [index, publish] of w.publishes.entries()) {
          if (index === w.unsubscribeAfter && ids[0]) await bus.unsubscribe(ids[0])
          const source = [ModuleId.DataCapture, ModuleId.Storage, ModuleId.Orchestrator][publish.variant]!
          const message = {
            ...rawMessage(publish.priority as MessagePriority),
            source,
            id: crypto.randomUUID(),
          }
          await bus.publish(message).then(
            () => accepted++,
            (error) => {
              expect(error.kind).toBe('QueueFull')
              refused++
            },
          )
          await advance(publish.gapMs)
        }
        await advance(10_000) // quiet: every retry, timeout and slow handler is over
        const metrics = await bus.metrics()
        expect(metrics.messagesPublished).toBe(accepted)
        expect(metrics.messagesQueueFull).toBe(refused)
        expect(metrics.currentQueueDepth).toBe(0)
        expect(metrics.inFlight).toBe(0)
        expect(accepted + refused).toBe(w.publishes.length)
        for (const sub of metrics.subscriptions) {
          expect(sub.routed).toBe(sub.delivered + sub.dropped + sub.coalesced + sub.deadLettered)
        }
        const routedTotal =
          metrics.messagesDelivered +
          metrics.messagesDropped +
          metrics.messagesCoalesced +
          metrics.messagesDeadLettered
        const live = metrics.subscriptions.reduce((sum, s) => sum + s.routed, 0)
        // Ended subscriptions are gone from the list but their copies stay counted bus-wide.
        expect(routedTotal).toBeGreaterThanOrEqual(live)
        expect(bus.deadLetters.list()).toHaveLength(metrics.messagesDeadLettered)
        await bus.shutdown({ drainTimeoutMs: 0 })
      }),
      { numRuns: 60 },
    )
  })
})
