/**
 * Parity: a subscription at an endpoint behaves as the same subscription in process. For generated
 * workloads (priorities, handlers that succeed, throw, reject, hang or return a broken thenable,
 * predicates that decline or throw), both see the same messages in the same order and end with the
 * same dead letters (and reasons), predicate errors and metrics: every counter of the bus, the
 * subscription, its module and its type, slow handlers and the number of latencies recorded.
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
import { behave, rawEvent, waitFor } from '../helpers.js'
import { captureToStorage, connectClient, startHub, untilActive } from './fixture.js'
import { overWebSocket } from './websocket-client.js'

const BEHAVIOURS = ['ok', 'throw', 'reject', 'hang', 'broken-then', 'decline', 'predicate-throws'] as const
type Behaviour = (typeof BEHAVIOURS)[number]

const workload = fc.record({
  /**
   * How the endpoint is attached and its deliveries come: a port through the hub, a port with a
   * direct route from the producer, or a WebSocket through the gateway.
   */
  path: fc.constantFrom('hub', 'direct', 'websocket'),
  mode: fc.constantFrom('BestEffort', 'Reliable', 'LatestOnly'),
  workers: fc.integer({ min: 1, max: 3 }),
  /** Retries of a failed Reliable delivery before it is dead-lettered. */
  retries: fc.integer({ min: 0, max: 2 }),
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
const configFor = (w: Workload) => ({
  workers: w.workers,
  maxRetryAttempts: w.retries,
  deliveryTimeoutMs: TIMEOUT_MS,
  retry: { initialMs: 5, maxMs: 10, multiplier: 2, jitter: 0 },
})

const behaviourOf = (message: Envelope) =>
  (message.payload.data as { eventType: string }).eventType.split(':')[1] as Behaviour

function filter() {
  return MessageFilter.types(['RawEvent']).withPredicate((message) => {
    const behaviour = behaviourOf(message)
    if (behaviour === 'predicate-throws') throw new Error('predicate bug')
    return behaviour !== 'decline'
  })
}

/** Handles as the message's behaviour says; records the name first. */
function handler(seen: string[]) {
  return (message: Envelope): unknown => {
    seen.push((message.payload.data as { eventType: string }).eventType)
    const behaviour = behaviourOf(message)
    return behaviour === 'decline' || behaviour === 'predicate-throws' ? undefined : behave(behaviour)
  }
}

/**
 * Publishes the workload's messages in one tick with `publisher` and waits until `bus` has counted
 * `routed` copies to the subscription and settled all of them.
 */
async function run(publisher: Pick<EventBus, 'publish'>, bus: EventBus, w: Workload, routed: number) {
  await Promise.all(
    w.messages.map(({ priority, behaviour }, index) =>
      publisher.publish(
        BusMessage.withPriority(
          ModuleId.DataCapture,
          MessagePayload.RawEvent(rawEvent({ eventType: `m${index}:${behaviour}` })),
          priority as MessagePriority,
        ),
      ),
    ),
  )
  // A direct route's counts and dead letters reach the hub in reports: wait for all of them.
  const settled = ({ subscriptions: [s] }: Awaited<ReturnType<EventBus['metrics']>>) =>
    s !== undefined &&
    s.routed === routed &&
    s.routed === s.delivered + s.dropped + s.coalesced + s.deadLettered &&
    s.inFlight === 0 &&
    bus.deadLetters.list().length === s.deadLettered
  await waitFor(async () => settled(await bus.metrics()), 5_000)
  const metrics = await bus.metrics()
  return {
    deadLetters: bus.deadLetters
      .list()
      .map(
        (entry) =>
          `${(entry.message.payload.data as { eventType: string }).eventType} ${entry.reason} after ${entry.attempts}`,
      )
      .sort(),
    predicateErrors: metrics.predicateErrors,
    counts: countsOf(metrics),
  }
}

/**
 * `counts` as an endpoint reports them: a copy its predicate declines is acknowledged there and
 * counted as delivered (BUS-API), where in process it is never routed, so its publish, the only
 * subscription's, went to no one (`unrouted`).
 */
function withDeclinedDelivered(counts: ReturnType<typeof countsOf>, declined: number) {
  const plus = <C extends { delivered: number }>(c: C) => ({ ...c, delivered: c.delivered + declined })
  const routed = <C extends { unrouted: number }>(c: C) => ({ ...c, unrouted: c.unrouted - declined })
  const storage = counts.modules[ModuleId.Storage]
  const capture = counts.modules[ModuleId.DataCapture]
  const rawEvents = counts.types.RawEvent
  return {
    ...counts,
    total: { ...routed(plus(counts.total)), latencyCount: counts.total.latencyCount + declined },
    subscription: counts.subscription && {
      ...plus(counts.subscription),
      latencyCount: counts.subscription.latencyCount + declined,
    },
    modules: {
      ...counts.modules,
      ...(storage && { [ModuleId.Storage]: plus(storage) }),
      ...(capture && { [ModuleId.DataCapture]: routed(capture) }),
    },
    types: { ...counts.types, ...(rawEvents && { RawEvent: routed(plus(rawEvents)) }) },
  }
}

type Metrics = Awaited<ReturnType<EventBus['metrics']>>
function countsOf(m: Metrics) {
  const [s] = m.subscriptions
  return {
    total: {
      published: m.messagesPublished,
      delivered: m.messagesDelivered,
      failed: m.messagesFailed,
      dropped: m.messagesDropped,
      coalesced: m.messagesCoalesced,
      retried: m.messagesRetried,
      deadLettered: m.messagesDeadLettered,
      unrouted: m.messagesUnrouted,
      latencyCount: m.deliveryLatency.count,
      queue: m.currentQueueDepth,
      inFlight: m.inFlight,
      dlq: m.deadLetters.size,
    },
    subscription: s && {
      delivered: s.delivered,
      failed: s.failed,
      dropped: s.dropped,
      coalesced: s.coalesced,
      retried: s.retried,
      deadLettered: s.deadLettered,
      predicateErrors: s.predicateErrors,
      slow: s.slowHandlers,
      latencyCount: s.latency.count,
    },
    modules: m.modules,
    types: m.types,
  }
}

/**
 * The workload with predicates that accept everything. LatestOnly coalesces before the predicate
 * runs at an endpoint (in the hub), after it in process: when the newest message is declined, the
 * endpoint handles none where the bus handles the newest accepted one (README, *Filters and
 * delivery modes*).
 */
function withoutPredicateRefusals(w: Workload): Workload {
  const accepted = (behaviour: Behaviour) =>
    behaviour === 'decline' || behaviour === 'predicate-throws' ? 'ok' : behaviour
  return { ...w, messages: w.messages.map((m) => ({ ...m, behaviour: accepted(m.behaviour) })) }
}

describe('an endpoint’s subscription and the same one in process', () => {
  it('see the same messages in the same order and end with the same dead letters and counts', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (generated) => {
        const w = generated.mode === 'LatestOnly' ? withoutPredicateRefusals(generated) : generated
        const mode =
          w.mode === 'Reliable' ? DeliveryMode.Reliable({ timeoutMs: TIMEOUT_MS }) : { kind: w.mode }
        const local = createEventBus(configFor(w))
        await local.start()
        const seenLocally: string[] = []
        await local.subscribe(ModuleId.Storage, filter(), mode, handler(seenLocally))
        // In process, a copy the predicate declines is never routed; at an endpoint (which runs
        // the predicate) it is routed and acknowledged.
        const declined = w.messages.filter(
          ({ behaviour }) => behaviour === 'decline' || behaviour === 'predicate-throws',
        )
        const inProcess = await run(local, local, w, w.messages.length - declined.length)
        await local.shutdown({ drainTimeoutMs: 0 })

        const { bus, hub } = await startHub(configFor(w))
        const route = w.path === 'direct' ? captureToStorage(hub) : undefined
        const storage =
          w.path === 'websocket'
            ? await overWebSocket(hub, ModuleId.Storage)
            : await connectClient(hub, ModuleId.Storage)
        const seenRemotely: string[] = []
        await storage.subscribe(ModuleId.Storage, filter(), mode, handler(seenRemotely) as never)
        const capture = await connectClient(hub, ModuleId.DataCapture)
        if (route !== undefined) await untilActive(route)
        const remote = await run(capture, bus, w, w.messages.length)

        // Retries may reorder (BUS-API): with them, the same handler calls in any order.
        if (w.retries === 0) expect(seenRemotely).toEqual(seenLocally)
        else expect([...seenRemotely].sort()).toEqual([...seenLocally].sort())
        expect(remote).toEqual({
          ...inProcess,
          counts: withDeclinedDelivered(inProcess.counts, declined.length),
        })
      }),
      { numRuns: 40 },
    )
  }, 120_000)
})
