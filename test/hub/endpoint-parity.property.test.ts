/**
 * Parity: a subscription at an endpoint behaves as the same subscription in process. For generated
 * workloads (priorities, handlers that succeed, throw, reject, hang or return a broken thenable,
 * predicates that decline or throw), both see the same messages in the same order and end with the
 * same dead letters (and reasons) and predicate errors.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type Envelope,
  type EventBus,
  MessageFilter,
  MessagePayload,
  type MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { rawEvent, thenThatThrows, waitFor } from '../helpers.js'
import { connectClient, startHub } from './fixture.js'

const BEHAVIOURS = ['ok', 'throw', 'reject', 'hang', 'broken-then', 'decline', 'predicate-throws'] as const
type Behaviour = (typeof BEHAVIOURS)[number]

const workload = fc.record({
  reliable: fc.boolean(),
  workers: fc.integer({ min: 1, max: 3 }),
  messages: fc.array(
    fc.record({ priority: fc.integer({ min: 0, max: 3 }), behaviour: fc.constantFrom(...BEHAVIOURS) }),
    {
      minLength: 1,
      maxLength: 25,
    },
  ),
})
type Workload = typeof workload extends fc.Arbitrary<infer W> ? W : never

const TIMEOUT_MS = 40
const config = { maxRetryAttempts: 0, deliveryTimeoutMs: TIMEOUT_MS }

const behaviourOf = (message: Envelope) =>
  (message.payload.data as { eventType: string }).eventType.split(':')[1] as Behaviour

function filter() {
  return MessageFilter.types(['RawEvent']).withPredicate((message) => {
    const behaviour = behaviourOf(message)
    if (behaviour === 'predicate-throws') throw new Error('predicate bug')
    return behaviour !== 'decline'
  })
}

/** Handles as `behaviour` says; records the name first. */
function handler(seen: string[]) {
  return (message: Envelope): unknown => {
    seen.push((message.payload.data as { eventType: string }).eventType)
    switch (behaviourOf(message)) {
      case 'throw':
        throw new Error('thrown')
      case 'reject':
        return Promise.reject(new Error('rejected'))
      case 'hang':
        return new Promise(() => {})
      case 'broken-then':
        return thenThatThrows(new Error('broken then'))
      default:
        return undefined
    }
  }
}

/** Publishes the workload's messages in one tick and waits until the bus is quiet. */
async function run(bus: EventBus, w: Workload) {
  await Promise.all(
    w.messages.map(({ priority, behaviour }, index) =>
      bus.publish(
        BusMessage.withPriority(
          ModuleId.DataCapture,
          MessagePayload.RawEvent(rawEvent({ eventType: `m${index}:${behaviour}` })),
          priority as MessagePriority,
        ),
      ),
    ),
  )
  const settled = (m: Awaited<ReturnType<EventBus['metrics']>>) =>
    m.subscriptions.every((s) => s.routed === s.delivered + s.dropped + s.deadLettered && s.inFlight === 0)
  await waitFor(async () => settled(await bus.metrics()), 5_000)
  const metrics = await bus.metrics()
  return {
    deadLetters: bus.deadLetters
      .list()
      .map((entry) => `${(entry.message.payload.data as { eventType: string }).eventType} ${entry.reason}`)
      .sort(),
    predicateErrors: metrics.predicateErrors,
  }
}

describe('an endpoint’s subscription and the same one in process', () => {
  it('see the same messages in the same order and end with the same dead letters', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (w) => {
        const mode = w.reliable ? DeliveryMode.Reliable({ timeoutMs: TIMEOUT_MS }) : DeliveryMode.BestEffort
        const local = createEventBus({ ...config, workers: w.workers })
        await local.start()
        const seenLocally: string[] = []
        await local.subscribe(ModuleId.Storage, filter(), mode, handler(seenLocally))
        const inProcess = await run(local, w)
        await local.shutdown({ drainTimeoutMs: 0 })

        const { bus, hub } = await startHub({ ...config, workers: w.workers })
        const storage = await connectClient(hub, ModuleId.Storage)
        const seenRemotely: string[] = []
        await storage.subscribe(ModuleId.Storage, filter(), mode, handler(seenRemotely) as never)
        const remote = await run(bus, w)

        expect(seenRemotely).toEqual(seenLocally)
        expect(remote).toEqual(inProcess)
      }),
      { numRuns: 40 },
    )
  }, 120_000)
})
