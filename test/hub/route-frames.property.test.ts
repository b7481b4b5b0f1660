/**
 * A direct channel's own endpoints lying: the route's producer and consumer, speaking raw frames,
 * send generated channel frames (reports, outcomes, releases, holds, dead letters, hand-backs) that
 * are well formed but claim anything, and now and then the producer dies (its port closes) and a
 * new one attaches. The hub may believe a liar about its own channel (its counts are the only ones
 * there are), but nothing else may suffer: the hub keeps running, every metrics snapshot stays
 * valid for the inspector, other traffic keeps flowing, all of it accounted, and the route still
 * comes up afterwards. The other way round, a producer feeding its consumer anything on the
 * channel: the consumer handles only the producer's valid messages and keeps working.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  DeliveryMode,
  type EventBusConfigInput,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { builtinCatalog } from '../../src/shared/catalog.js'
import { MAX_LATENCY_MICROS, slotOf } from '../../src/shared/latency-tally.js'
import { messageValidator } from '../../src/shared/message-validator.js'
import { busMetricsSchema } from '../../src/shared/metrics-snapshot.js'
import { DIRECT_COUNT_NAMES, type DirectLimits, zeroDirectCounts } from '../../src/shared/wire.js'
import { envelopeWithData, rawEvent, validData, waitFor } from '../helpers.js'
import { consumerAroundFakes } from './consumer-fakes.js'
import { type RawFrame, rawPeer, startHub } from './fixture.js'

const reliable = DeliveryMode.Reliable({ timeoutMs: 5_000 })
/** Stands for the channel's current id, filled in as a frame is sent (a route may be set up again). */
const CHANNEL = '<channel>'
/** Stands for the consumer's subscription id, known only once it subscribed. */
const SUBSCRIPTION = '<subscription>'

const anyCount = fc.oneof(fc.nat(10), fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const channelId = fc.oneof(
  { arbitrary: fc.constant(CHANNEL), weight: 2 },
  { arbitrary: fc.string({ minLength: 1, maxLength: 8 }), weight: 1 },
)
const subscriptionId = fc.oneof(fc.constant(SUBSCRIPTION), fc.string({ minLength: 1, maxLength: 8 }))
const typeName = fc.constantFrom('RawEvent', 'StateChange', 'NoSuchType')
/** A report's latencies of one subscription: mostly a tally a producer could send, sometimes any sum. */
const latencyTally = fc
  .record({
    sid: subscriptionId,
    tallied: fc.array(fc.tuple(fc.nat(MAX_LATENCY_MICROS), fc.oneof(fc.nat(10), anyCount)), { maxLength: 5 }),
    sumUs: fc.option(fc.double({ min: 0, max: 1e20, noNaN: true }), { freq: 3 }),
  })
  .map(({ sid, tallied, sumUs }) => ({
    sid,
    us: tallied.map(([micros]) => slotOf(micros)),
    n: tallied.map(([, count]) => Math.max(1, count)),
    sumUs: sumUs ?? tallied.reduce((sum, [micros, count]) => sum + slotOf(micros) * Math.max(1, count), 0),
  }))

const directCounts = fc.record({
  sid: subscriptionId,
  type: typeName,
  ...Object.fromEntries(DIRECT_COUNT_NAMES.map((name) => [name, anyCount])),
  // Mostly none, as a producer's reports say (any other number refuses the whole report).
  handedBack: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: anyCount, weight: 1 }),
})
const outcomes = fc.record({
  sid: subscriptionId,
  type: typeName,
  arrived: anyCount,
  delivered: anyCount,
  failed: anyCount,
  dropped: anyCount,
  slow: anyCount,
})
/** A message of the route's type from its producer, or one from someone else. */
const message = fc
  .tuple(fc.constantFrom(ModuleId.DataCapture, ModuleId.Storage), fc.string({ maxLength: 8 }))
  .map(([source, eventType]) => BusMessage.create(source, MessagePayload.RawEvent(rawEvent({ eventType }))))

/** Frames the producer's side sends about a channel. */
const producerFrame: fc.Arbitrary<RawFrame> = fc.oneof(
  fc.record({
    t: fc.constant('rstat'),
    id: channelId,
    report: fc.record(
      {
        published: fc.array(fc.record({ type: typeName, count: anyCount }), { maxLength: 3 }),
        counts: fc.array(directCounts, { maxLength: 3 }),
        latency: fc.array(latencyTally, {
          maxLength: 2,
        }),
        queued: anyCount,
        inFlight: anyCount,
        tail: fc.array(fc.record({ msg: message, routedTo: anyCount }), { maxLength: 2 }),
        final: fc.constant(true as const),
      },
      { requiredKeys: ['published', 'counts', 'latency', 'queued', 'inFlight'] },
    ),
  }),
  fc.record({
    t: fc.constant('rdead'),
    id: channelId,
    sid: subscriptionId,
    msg: message,
    reason: fc.constantFrom('MaxRetriesExceeded', 'DeliveryTimeout'),
    attempts: fc.integer({ min: 1, max: 1_000_000 }),
    error: fc.string({ maxLength: 20 }),
    firstFailedAt: fc.double({ min: -1e15, max: 1e15, noNaN: true }),
  }),
  fc.record({ t: fc.constant('rdown'), id: channelId, reason: fc.string({ maxLength: 20 }) }),
  fc.record({ t: fc.constant('rsync'), id: channelId, seq: anyCount }),
  // A hand-back: a copy the channel did not deliver, for the hub to route.
  fc.record({ t: fc.constant('pub'), rid: fc.constant(0), msg: message, via: channelId, to: subscriptionId }),
  // A request's copy for the subscribers the channel does not serve, whose takers the hub counts.
  fc.record({
    t: fc.constant('pub'),
    rid: fc.constant(0),
    msg: message,
    via: channelId,
    seq: anyCount,
    count: fc.record(
      { module: fc.constantFrom(ModuleId.Storage, ModuleId.Gamification) },
      { requiredKeys: [] },
    ),
  }),
)

/** Frames the consumer's side sends about a channel. */
const consumerFrame: fc.Arbitrary<RawFrame> = fc.oneof(
  fc.record(
    {
      t: fc.constant('rfin'),
      id: channelId,
      outcomes: fc.array(outcomes, { maxLength: 3 }),
      provisional: fc.constant(true as const),
    },
    { requiredKeys: ['t', 'id', 'outcomes'] },
  ),
  fc.record({
    t: fc.constant('rrel'),
    id: channelId,
    to: subscriptionId,
    ids: fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 3 }),
  }),
  // A hold (a failed delivery the producer retries) or, with custody, one left as the side closed.
  fc.record(
    {
      t: fc.constant('pub'),
      rid: fc.constant(0),
      msg: message,
      via: channelId,
      to: subscriptionId,
      held: fc.constant(true as const),
      custody: fc.constant(true as const),
    },
    { requiredKeys: ['t', 'rid', 'msg', 'via', 'to', 'held'] },
  ),
)

/** `value` with the placeholders replaced by the channel and subscription they stand for. */
function filledIn<T>(value: T, channel: string, subscription: string): T {
  if (value === CHANNEL) return channel as T
  if (value === SUBSCRIPTION) return subscription as T
  if (Array.isArray(value)) return value.map((item) => filledIn(item, channel, subscription)) as T
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return value
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, filledIn(item, channel, subscription)]),
  ) as T
}

/**
 * A route DataCapture → Storage whose producer and consumer are raw peers: the consumer subscribed
 * Reliably, the producer confirmed the channel's first terms. `send(side, …frames)` sends from
 * either side and resolves once the hub has read them (a ping after them is answered); `post` does
 * not wait.
 */
async function rawRoute(config: EventBusConfigInput = {}, mode: DeliveryMode = reliable) {
  const { bus, hub } = await startHub({ maxRetryAttempts: 1, retry: { initialMs: 1, maxMs: 5 }, ...config })
  hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] })
  const consumer = rawPeer(hub, ModuleId.Storage, { publish: [], subscribe: ['RawEvent'] })
  consumer.send([
    { t: 'hello', v: 1, batch: true },
    { t: 'sub', rid: 1, module: ModuleId.Storage, filter: { types: ['RawEvent'] }, mode },
  ])
  await waitFor(() => consumer.frames.some((frame) => frame.t === 'res'))
  const subscription = consumer.frames.find((frame) => frame.t === 'res')?.ok as string
  /** A producer attached afresh: it confirms the terms of every channel it is given, as they come. */
  const attachProducer = () => {
    const peer = rawPeer(hub, ModuleId.DataCapture, { publish: ['RawEvent'], subscribe: [] })
    peer.port.on('message', (unit: RawFrame[] | { data: RawFrame[] }) => {
      for (const frame of Array.isArray(unit) ? unit : unit.data) {
        const { t, id, terms } = frame as RawFrame & { terms?: { seq: number } }
        if ((t === 'route' || t === 'rterms') && terms !== undefined)
          peer.send([{ t: 'rsync', id, seq: terms.seq }])
      }
    })
    peer.send([{ t: 'hello', v: 1, batch: true }])
    /** Its channel's id, or none yet (a route comes back a second after it went down). */
    const channel = () => (peer.frames.findLast((frame) => frame.t === 'route')?.id as string) ?? 'none-yet'
    return { ...peer, channel }
  }
  const peers = { producer: attachProducer(), consumer }
  await waitFor(() => peers.producer.frames.some((frame) => frame.t === 'route'))
  const pongs = (side: keyof typeof peers) => peers[side].frames.filter((f) => f.t === 'pong').length
  const send = async (side: keyof typeof peers, ...frames: RawFrame[]) => {
    const answered = pongs(side) + 1
    peers[side].send([...frames, { t: 'ping' }])
    await waitFor(() => pongs(side) === answered)
  }
  /** Sends without waiting: `send` with no frames later says when the hub has read them. */
  const post = (side: keyof typeof peers, frame: RawFrame) => peers[side].send([frame])
  return {
    bus,
    hub,
    subscription,
    /** The current producer's channel. */
    channel: () => peers.producer.channel(),
    /** The limits the hub gave the current producer with its channel. */
    limits: () => peers.producer.frames.findLast((frame) => frame.t === 'route')?.limits as DirectLimits,
    send,
    post,
    /** The producer's port closes without a word (its process died), and a new one attaches. */
    async replaceProducer() {
      peers.producer.port.close()
      await waitFor(() => hub.attachments().every((a) => a.module !== ModuleId.DataCapture))
      peers.producer = attachProducer()
    },
    /** Every frame the hub sent to `side`. */
    frames: (side: keyof typeof peers) => peers[side].frames,
    /** What the hub's error frames to `side` say: each error's data. */
    errors: (side: keyof typeof peers) =>
      peers[side].frames.flatMap((f) => (f.t === 'err' ? [(f.error as { data: object }).data] : [])),
  }
}

describe('direct channel frames from its own endpoints', () => {
  it('keep the hub running, its metrics valid and other traffic flowing, whatever they claim', async () => {
    const { bus, hub, subscription, channel, send, post, replaceProducer } = await rawRoute()
    // Someone else's traffic, in process, which must not notice any of it.
    const seen: string[] = []
    await bus.subscribe(ModuleId.Gamification, MessageFilter.types(['StateChange']), reliable, (m) => {
      seen.push(m.id)
    })
    type Step = readonly ['producer' | 'consumer', RawFrame] | readonly ['producer dies']
    const step: fc.Arbitrary<Step> = fc.oneof(
      { arbitrary: producerFrame.map((frame) => ['producer', frame] as const), weight: 10 },
      { arbitrary: consumerFrame.map((frame) => ['consumer', frame] as const), weight: 10 },
      // The channel goes down with whatever was claimed on it, and comes back for a new producer.
      { arbitrary: fc.constant(['producer dies'] as const), weight: 1 },
    )

    let published = 0
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        for (const step of steps) {
          if (step[0] === 'producer dies') await replaceProducer()
          else post(step[0], filledIn(step[1], channel(), subscription))
        }
        await Promise.all([send('producer'), send('consumer')])
        await bus.publish(
          BusMessage.create(
            ModuleId.AnalysisEngine,
            MessagePayload.StateChange({ state: `s${published++}`, confidence: 1, timestamp: new Date() }),
          ),
        )
        const snapshot = await bus.metrics()
        const checked = busMetricsSchema.safeParse(snapshot)
        expect(checked.success ? [] : checked.error.issues).toEqual([])
      }),
      { numRuns: 200 },
    )
    await waitFor(() => seen.length === published)
    expect(new Set(seen).size).toBe(published)
    const metrics = await bus.metrics()
    const bystander = metrics.subscriptions.find((s) => s.module === ModuleId.Gamification)
    expect(bystander).toMatchObject({ routed: published, delivered: published, deadLettered: 0 })
    expect(metrics.types.StateChange?.published).toBe(published)
    // And the route still comes up for them (a second after its channel last went down).
    await waitFor(() => hub.routes()[0]?.state === 'active')
    // Both liars are still attached (a lie is refused or believed, never a reason to crash). The
    // accounting of their own subscription is whatever they claimed; everyone else's holds.
    expect(
      hub
        .attachments()
        .map((a) => a.module)
        .sort(),
    ).toEqual([ModuleId.DataCapture, ModuleId.Storage])
  })

  it("refuse a producer's hand-back or dead letter that is not its own valid message, counting nothing", async () => {
    const { bus, subscription, channel, send, errors } = await rawRoute()
    const forged = BusMessage.create(ModuleId.Storage, MessagePayload.RawEvent(rawEvent()))
    const own = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const invalid = { ...own, payload: { type: 'RawEvent', data: { eventType: 5 } } }
    const deadLetter = (msg: object) => ({
      t: 'rdead',
      id: channel(),
      sid: subscription,
      msg,
      reason: 'MaxRetriesExceeded',
      attempts: 2,
      error: 'failed',
      firstFailedAt: Date.now(),
    })
    await send(
      'producer',
      { t: 'pub', rid: 0, msg: forged, via: channel(), to: subscription },
      deadLetter(forged),
      { t: 'pub', rid: 0, msg: invalid, via: channel(), to: subscription },
      deadLetter(invalid),
    )
    const forgery = { kind: 'Unauthorized', module: ModuleId.DataCapture, action: 'source', type: 'RawEvent' }
    expect(errors('producer')).toMatchObject([
      forgery,
      forgery,
      { kind: 'MessageRejected' },
      { kind: 'MessageRejected' },
    ])
    expect(bus.deadLetters.list()).toEqual([])
    const metrics = await bus.metrics()
    expect(metrics.subscriptions.find((s) => s.id === subscription)).toMatchObject({
      routed: 0,
      queueDepth: 0,
      inFlight: 0,
      deadLettered: 0,
    })
    expect(metrics.messagesDeadLettered).toBe(0)
    // The route shows that one of its own ends misbehaves.
    expect(metrics.routes[0]?.refused).toBe(4)
  })

  it("count a request's copy without the channel's own subscriptions, and refuse one from its consumer", async () => {
    const { bus, subscription, channel, send, errors, frames } = await rawRoute()
    const request = () => BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const copy = (rid: number, count: object, msg: object = request()) => ({
      t: 'pub',
      rid,
      msg,
      via: channel(),
      seq: 0,
      count,
    })
    // Only the channel's consumer subscribes, and the channel serves it: none of the hub's takes it.
    await send('producer', copy(1, {}), copy(2, { module: ModuleId.Storage }))
    const gamification: string[] = []
    await bus.subscribe(ModuleId.Gamification, MessageFilter.types(['RawEvent']), reliable, (m) => {
      gamification.push(m.id)
    })
    const taken = request()
    await send(
      'producer',
      copy(3, {}, taken),
      copy(4, { module: ModuleId.Storage }),
      copy(5, {}, { bogus: 1 }),
    )
    // The consumer's side is no producer of the channel (nor of its messages).
    await send('consumer', copy(6, {}))
    // Accepted publishes are answered in ranges (`okr`), which may leave after later answers.
    const answerTo = (rid: number) =>
      frames('producer').filter(
        (f) => f.rid === rid || (f.t === 'okr' && (f.from as number) <= rid && rid <= (f.to as number)),
      )
    expect([1, 2, 3, 4, 5].map(answerTo)).toMatchObject([
      [{ t: 'res', ok: 0 }],
      [{ t: 'res', ok: 0 }],
      [{ t: 'okr' }],
      [{ t: 'res', ok: 0 }],
      [{ t: 'rej', error: { data: { kind: 'MessageRejected' } } }],
    ])
    expect(frames('consumer').find((f) => f.rid === 6)).toMatchObject({
      t: 'rej',
      error: { data: { kind: 'Unauthorized', module: ModuleId.Storage } },
    })
    expect(errors('producer')).toEqual([])
    // Published all the same, each once: the hub's copies reached Gamification, never the consumer.
    await waitFor(() => gamification.length === 2)
    expect(gamification).toContain(taken.id)
    const metrics = await bus.metrics()
    expect(metrics.types.RawEvent?.published).toBe(4)
    expect(metrics.subscriptions.find((s) => s.id === subscription)).toMatchObject({ routed: 0 })
  })

  it('take a delivery back once, whichever of the channel’s ends gives it back first', async () => {
    const { bus, subscription, channel, send, frames } = await rawRoute()
    const own = () => BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const custody = (msg: object) => ({
      t: 'pub',
      rid: 0,
      msg,
      via: channel(),
      to: subscription,
      held: true,
      custody: true,
    })
    const handBack = (msg: object) => ({ t: 'pub', rid: 0, msg, via: channel(), to: subscription })
    /** Deliveries over the hub path: their messages travel as tuples, the id first (message-tuple). */
    const overHubPath = () =>
      frames('consumer').flatMap((f) =>
        f.t === 'dlvs'
          ? (f.msgs as [string][]).map(([id], i) => ({ id, delivery: (f.id as number) + i }))
          : [],
      )
    // Handled by the consumer in the hub's custody first: the producer's hand-back comes too late.
    const handledFirst = own()
    await send('consumer', custody(handledFirst), {
      t: 'rrel',
      id: channel(),
      to: subscription,
      ids: [handledFirst.id],
    })
    await send('producer', handBack(handledFirst))
    // Handed back by the producer first: the consumer's release of its custody comes too late.
    const handedBackFirst = own()
    await send('consumer', custody(handedBackFirst))
    await send('producer', handBack(handedBackFirst))
    await waitFor(() => overHubPath().length === 1)
    const [requeued] = overHubPath()
    expect(requeued?.id).toBe(handedBackFirst.id)
    await send(
      'consumer',
      { t: 'ack', ids: [requeued?.delivery] },
      { t: 'rrel', id: channel(), to: subscription, ids: [handedBackFirst.id] },
    )
    const metrics = await bus.metrics()
    expect(metrics.routes[0]?.handedBack).toBe(1)
    // Each delivered once: one from custody, one over the hub path. (This raw producer reports no
    // copies routed over the channel, so `routed` says nothing here.)
    expect(metrics.subscriptions.find((s) => s.id === subscription)).toMatchObject({
      delivered: 2,
      queueDepth: 0,
      inFlight: 0,
    })
    expect(overHubPath()).toHaveLength(1)
  })

  it('drop what a consumer hands back of a BestEffort subscription, as a failed BestEffort delivery is', async () => {
    const { bus, subscription, channel, send, frames, replaceProducer } = await rawRoute(
      {},
      DeliveryMode.BestEffort,
    )
    const failed = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const closed = channel()
    await send('consumer', { t: 'pub', rid: 0, msg: failed, via: closed, to: subscription })
    // What the hub would requeue is requeued once the producer is gone and the consumer has
    // settled the channel: nothing, here.
    await replaceProducer()
    await send('consumer', { t: 'rfin', id: closed, outcomes: [] })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(frames('consumer').filter((f) => f.t === 'dlvs' || f.t === 'dlv')).toEqual([])
    expect(frames('consumer').filter((f) => f.t === 'err')).toEqual([])
    expect((await bus.metrics()).routes[0]?.handedBack).toBe(0)
  })

  it("refuse a producer's hand-backs past what its window and its queue could hold", async () => {
    const { bus, subscription, channel, limits, send, errors } = await rawRoute({ maxQueueSize: 10 })
    // All it can have in flight, its backlog, and one copy more for each subscription served.
    const most = limits().window + limits().maxQueueSize + 1
    const handBack = () => ({
      t: 'pub',
      rid: 0,
      msg: BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
      via: channel(),
      to: subscription,
    })
    await send('producer', ...Array.from({ length: most + 3 }, handBack))
    const refusal = { kind: 'MessageRejected', reason: expect.stringContaining(`at most ${most} copies`) }
    expect(errors('producer')).toMatchObject([refusal, refusal, refusal])
    const metrics = await bus.metrics()
    const taken = metrics.subscriptions.find((s) => s.id === subscription)
    expect((taken?.queueDepth ?? 0) + (taken?.inFlight ?? 0)).toBe(most)
    expect(metrics.routes[0]?.refused).toBe(3)
  })

  it('refuse a report whole that claims what no producer counts, counting none of it', async () => {
    const { bus, subscription, channel, send, errors } = await rawRoute()
    const counts = { ...zeroDirectCounts(subscription, 'RawEvent'), routed: 5, delivered: 5, sent: 5 }
    const report = (extra: object = {}) => ({
      t: 'rstat',
      id: channel(),
      report: {
        published: [{ type: 'RawEvent', count: 5 }],
        counts: [counts],
        latency: [],
        queued: 0,
        inFlight: 0,
        ...extra,
      },
    })
    const forged = BusMessage.create(ModuleId.Storage, MessagePayload.RawEvent(rawEvent()))
    // The producer's own, but of a type the route does not carry.
    const unrouted = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.StateChange(validData.StateChange()),
    )
    // Five deliveries: four of 100 µs, one in the slot of 4,000–4,001 µs.
    const latency = (n: number[], sumUs = 400 + 4_001) => ({ sid: subscription, us: [100, 4_000], n, sumUs })
    await send(
      'producer',
      report({ counts: [{ ...counts, handedBack: 1 }] }),
      report({ tail: [{ msg: forged, routedTo: 1 }] }),
      report({ tail: [{ msg: unrouted, routedTo: 1 }] }),
      // The producer's own, of the route's type, but no valid RawEvent.
      report({ tail: [{ msg: envelopeWithData({ ...rawEvent(), eventType: 42 }), routedTo: 1 }] }),
      report({ counts: [{ ...counts, failed: 1, slowHandlers: 7 }] }),
      report({ latency: [latency([5, 1])] }),
      report({ latency: [latency([4, 1], 4_002 + 400)] }),
      report({ latency: [latency([4, 1], 3_999 + 400)] }),
    )
    expect(errors('producer')).toMatchObject([
      { kind: 'MessageRejected', reason: expect.stringContaining('counts no hand-backs') },
      { kind: 'Unauthorized', action: 'source' },
      { kind: 'Unauthorized', action: 'publish', type: 'StateChange' },
      {
        kind: 'MessageRejected',
        issues: [expect.objectContaining({ path: ['payload', 'data', 'eventType'] })],
      },
      { kind: 'MessageRejected', reason: expect.stringContaining('7 slow handlers') },
      { kind: 'MessageRejected', reason: expect.stringContaining('6 latencies') },
      { kind: 'MessageRejected', reason: expect.stringContaining('outside the 4400–4401 µs') },
      { kind: 'MessageRejected', reason: expect.stringContaining('outside the 4400–4401 µs') },
    ])
    const before = await bus.metrics()
    expect(before.messagesPublished).toBe(0)
    expect(before.routes[0]?.refused).toBe(8)
    expect(before.subscriptions.find((s) => s.id === subscription)).toMatchObject({
      routed: 0,
      delivered: 0,
      slowHandlers: 0,
      latency: { count: 0 },
    })
    // One subscription's counts in two parts: its five latencies are set against both parts'
    // deliveries; a slow attempt may have failed (here the first of one copy, retried).
    const part = (copies: number) => ({ ...counts, routed: copies, delivered: copies, sent: copies })
    await send(
      'producer',
      report({
        counts: [
          { ...part(2), slowHandlers: 2 },
          { ...part(3), failed: 1, retried: 1, slowHandlers: 4 },
        ],
        latency: [latency([4, 1])],
      }),
    )
    expect(errors('producer')).toHaveLength(8)
    const after = await bus.metrics()
    expect(after.messagesPublished).toBe(5)
    expect(after.subscriptions.find((s) => s.id === subscription)).toMatchObject({
      routed: 5,
      delivered: 5,
      failed: 1,
      retried: 1,
      slowHandlers: 6,
      latency: { count: 5, p50Ms: 0.1, meanMs: expect.closeTo(0.8802, 9) },
    })
    // A tally whose latencies and their counts do not pair up is no tally: refused as malformed.
    await send('producer', report({ latency: [{ sid: subscription, us: [100, 4_000], n: [5], sumUs: 500 }] }))
    expect(errors('producer').at(-1)).toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringContaining('`us` and `n` must be as long'),
    })
    expect((await bus.metrics()).messagesPublished).toBe(5)
  })

  it('count the largest claims a report can make at once, held where metrics stay exact integers', async () => {
    const { bus, subscription, channel, send, errors } = await rawRoute()
    const most = Number.MAX_SAFE_INTEGER
    const counts = {
      ...zeroDirectCounts(subscription, 'RawEvent'),
      routed: most,
      delivered: most,
      sent: most,
    }
    const report = {
      t: 'rstat',
      id: channel(),
      report: {
        published: [{ type: 'RawEvent', count: most }],
        counts: [counts],
        latency: [],
        queued: 0,
        inFlight: 0,
      },
    }
    // Each report's deliveries count towards the delivery rate in one step, not one at a time.
    await send('producer', report, report)
    expect(errors('producer')).toEqual([])
    const metrics = await bus.metrics()
    expect(busMetricsSchema.parse(metrics)).toMatchObject({
      messagesPublished: 2 ** 52,
      messagesDelivered: 2 ** 52,
    })
    expect(metrics.subscriptions.find((s) => s.id === subscription)).toMatchObject({
      routed: 2 ** 52,
      delivered: 2 ** 52,
    })
    expect(metrics.routes[0]).toMatchObject({ routed: 2 ** 52, delivered: 2 ** 52 })
  })
})

describe('direct channel units from a lying producer, to its consumer', () => {
  it('are handled only where they are its valid messages, and the consumer keeps working', async () => {
    const handled: BusMessage<'RawEvent'>[] = []
    const { direct, fromConsumer } = await consumerAroundFakes(reliable, (m) => {
      handled.push(m)
    })
    // Mostly well formed, so that the consumer's own checks are what stand between them and its
    // handler: deliveries of messages of any source, type or shape, under any ids, retries too.
    const deliveryId = fc.oneof(
      { arbitrary: fc.nat(999_999), weight: 8 },
      { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.string()), weight: 1 },
    )
    const delivered = fc.oneof({ arbitrary: message, weight: 4 }, { arbitrary: fc.anything(), weight: 1 })
    const sid = fc.oneof(
      { arbitrary: fc.constant('sid-1'), weight: 4 },
      { arbitrary: fc.string(), weight: 1 },
    )
    const timeoutMs = fc.oneof(
      { arbitrary: fc.constant(1000), weight: 4 },
      { arbitrary: fc.double(), weight: 1 },
    )
    const frame = fc.oneof(
      {
        arbitrary: fc.record({ t: fc.constant('dlv'), sid, id: deliveryId, msg: delivered, timeoutMs }),
        weight: 4,
      },
      {
        arbitrary: fc.record({
          t: fc.constant('dlv'),
          sid,
          id: deliveryId,
          msg: delivered,
          timeoutMs,
          again: fc.constant(true),
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({
          t: fc.constant('dlvs'),
          sid,
          id: deliveryId,
          msgs: fc.array(delivered, { maxLength: 4 }),
          timeoutMs,
        }),
        weight: 3,
      },
      {
        arbitrary: fc.record({
          t: fc.constantFrom('ack', 'nack', 'rgo', '__proto__'),
          id: deliveryId,
          ids: fc.array(deliveryId),
        }),
        weight: 1,
      },
      { arbitrary: fc.anything(), weight: 1 },
    )
    const unit = fc.oneof(
      { arbitrary: fc.array(frame, { maxLength: 4 }), weight: 9 },
      { arbitrary: fc.anything(), weight: 1 },
    )
    await fc.assert(
      fc.asyncProperty(unit, async (sent) => {
        direct.port1.postMessage(sent)
        // A genuine delivery after it, with an id of its own, is still handled and acknowledged.
        const genuine = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
        const id = 1_000_000 + handled.length
        direct.port1.postMessage([{ t: 'dlv', sid: 'sid-1', id, msg: genuine, timeoutMs: 1000 }])
        await waitFor(() => fromConsumer.some((f) => f.t === 'ack' && (f.ids as unknown[]).includes(id)))
        expect(handled.at(-1)?.id).toBe(genuine.id)
      }),
      { numRuns: 200 },
    )
    const validator = messageValidator(builtinCatalog, 1 << 20)
    for (const message of handled) {
      expect(message).toMatchObject({ source: ModuleId.DataCapture, payload: { type: 'RawEvent' } })
      expect(() => validator.validate(message)).not.toThrow()
    }
  })
})
