/**
 * The producer's side of a direct channel, over a recording link and with fake timers: what it
 * delivers and when (its window, the hub's go, priorities), what it retries, dead-letters, drops or
 * hands back to the hub, and what its reports count. The direct-route integration tests hold the
 * whole path across threads; these hold each rule on its own, in milliseconds, with every frame to
 * the hub checked against the hub's schema.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MessagePriority, ModuleId } from '../../src/main/bus/index.js'
import { splitBatch } from '../../src/shared/batching.js'
import { builtinCatalog } from '../../src/shared/catalog.js'
import {
  DIRECT_REPORT_MS,
  DirectProducer,
  type DirectProducerHost,
} from '../../src/shared/direct-producer.js'
import type { Envelope } from '../../src/shared/message.js'
import { messageValidator } from '../../src/shared/message-validator.js'
import {
  DIRECT_TAIL_SAMPLE,
  type DirectCounts,
  type DirectLimits,
  type DirectReport,
  type DirectTarget,
  type EndpointFrame,
  endpointFrameSchema,
  type PublishCount,
  zeroDirectCounts,
} from '../../src/shared/wire.js'
import { advance, flushMicrotasks, rawMessage, useFakeClock } from '../helpers.js'
import { recordingHubLink } from './recording-link.js'

const CHANNEL = 'c1'
const CONSUMER = ModuleId.Storage

const defaultLimits: DirectLimits = {
  maxQueueSize: 8,
  maxMessageBytes: 1 << 20,
  maxRetryAttempts: 2,
  retry: { initialMs: 100, maxMs: 250, multiplier: 2, jitter: 0 },
  window: 4,
}

const target = (sid: string, reliable: boolean, extra: Partial<DirectTarget> = {}): DirectTarget => ({
  sid,
  types: ['RawEvent'],
  reliable,
  timeoutMs: 1_000,
  ...extra,
})

interface Options {
  targets?: DirectTarget[]
  shared?: string[]
  limits?: Partial<DirectLimits>
  /** Whether the hub has said go yet. */
  started?: boolean
}

/** A delivery as the consumer reads it, one per message of a batch. */
interface Sent {
  sid: string
  id: number
  msgId: string
  again: boolean
  timeoutMs: number
}

function directProducer({
  targets = [target('r', true)],
  shared = [],
  limits = {},
  started = true,
}: Options = {}) {
  const channel = recordingHubLink()
  const toHub: EndpointFrame[] = []
  const copies: { msgId: string; via: string; seq: number; count?: PublishCount }[] = []
  const ended: boolean[] = []
  const host: DirectProducerHost = {
    toHub: (frame) => toHub.push(endpointFrameSchema.parse(frame)),
    publishCopy: (message, via, seq) => {
      copies.push({ msgId: message.id, via, seq })
      return Promise.resolve(message.id)
    },
    requestCopy: (message, via, seq, count) => {
      copies.push({ msgId: message.id, via, seq, count })
      return Promise.resolve(undefined)
    },
    ended: (producer) => ended.push(producer.isOpen),
  }
  const producer = new DirectProducer(
    CHANNEL,
    CONSUMER,
    channel.link,
    { seq: 1, targets, shared },
    { ...defaultLimits, ...limits },
    messageValidator(builtinCatalog, defaultLimits.maxMessageBytes),
    host,
  )
  if (started) producer.start()
  /** Every delivery sent so far over the channel, in order. */
  const deliveries = async (): Promise<Sent[]> => {
    await flushMicrotasks()
    return channel
      .sent()
      .flat()
      .flatMap((frame) => splitBatch(frame))
      .flatMap((frame) => {
        if (frame.t === 'dlvs') {
          const [message] = frame.msgs as Envelope[]
          return [
            {
              sid: frame.sid,
              id: frame.id,
              msgId: message?.id ?? '',
              again: false,
              timeoutMs: frame.timeoutMs,
            },
          ]
        }
        if (frame.t === 'dlv') {
          const { sid, id, msg, timeoutMs } = frame
          return [{ sid, id, msgId: msg.id, again: frame.again === true, timeoutMs }]
        }
        return []
      })
  }
  const ack = (ids: number[], slow?: number[]) =>
    producer.receive({ t: 'ack', ids, ...(slow === undefined ? {} : { slow }) })
  const nack = (
    id: number,
    error = 'Error: boom',
    extra: { timedOut?: boolean; gone?: true; ran?: true; slow?: true } = {},
  ) => producer.receive({ t: 'nack', id, error, timedOut: false, ...extra })
  const framesOf = <T extends EndpointFrame['t']>(t: T) =>
    toHub.filter((frame): frame is Extract<EndpointFrame, { t: T }> => frame.t === t)
  /** Every report's counts added up by subscription and type. */
  const reported = () => {
    const sums = new Map<string, DirectCounts>()
    for (const { report } of framesOf('rstat'))
      for (const counts of report.counts) {
        const key = `${counts.sid}/${counts.type}`
        const sum = sums.get(key) ?? zeroDirectCounts(counts.sid, counts.type)
        for (const [name, value] of Object.entries(counts))
          if (typeof value === 'number')
            (sum as Record<string, unknown>)[name] = (sum[name as 'sent'] ?? 0) + value
        sums.set(key, sum)
      }
    return Object.fromEntries(
      [...sums].map(([key, counts]) => [
        key,
        Object.fromEntries(
          Object.entries(counts).filter(([, value]) => typeof value === 'number' && value > 0),
        ),
      ]),
    )
  }
  const reports = (): DirectReport[] => framesOf('rstat').map(({ report }) => report)
  return { producer, channel, toHub, copies, ended, deliveries, ack, nack, framesOf, reported, reports }
}

/** Whether `promise` has settled by now (its handlers ran). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  await flushMicrotasks()
  return done
}

beforeEach(() => {
  useFakeClock()
})

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('a direct channel’s producer delivers', () => {
  it('confirms its terms on creation and on each change, and delivers to each target the message matches', async () => {
    const { producer, toHub, deliveries } = directProducer({
      targets: [target('r', true), target('b', false, { minPriority: MessagePriority.High, timeoutMs: 50 })],
    })
    const normal = rawMessage()
    const high = rawMessage(MessagePriority.High)
    expect(await producer.publish(normal)).toBe(normal.id)
    expect(await producer.publish(high)).toBe(high.id)
    expect(await deliveries()).toEqual([
      { sid: 'r', id: 1, msgId: normal.id, again: false, timeoutMs: 1_000 },
      { sid: 'r', id: 2, msgId: high.id, again: false, timeoutMs: 1_000 },
      { sid: 'b', id: 3, msgId: high.id, again: false, timeoutMs: 50 },
    ])
    producer.applyTerms({ seq: 2, targets: [target('b', false)], shared: [] })
    await producer.publish(normal)
    expect((await deliveries()).at(-1)).toMatchObject({ sid: 'b', id: 4 })
    expect(toHub.filter((frame) => frame.t === 'rsync')).toEqual([
      { t: 'rsync', id: CHANNEL, seq: 1 },
      { t: 'rsync', id: CHANNEL, seq: 2 },
    ])
  })

  it('refuses a message that fails validation, sending nothing', async () => {
    const { producer, deliveries } = directProducer()
    const invalid = { ...rawMessage(), payload: { type: 'RawEvent', data: { eventType: 7 } } } as Envelope
    await expect(producer.publish(invalid)).rejects.toMatchObject({ kind: 'MessageRejected' })
    expect(await deliveries()).toEqual([])
  })

  it('holds copies until the hub says go, then sends the highest priority first, and only then resolves', async () => {
    const { producer, deliveries } = directProducer({ started: false })
    const low = rawMessage(MessagePriority.Low)
    const critical = rawMessage(MessagePriority.Critical)
    const publishes = [producer.publish(low), producer.publish(critical)]
    expect(await settled(Promise.race(publishes))).toBe(false)
    expect(await deliveries()).toEqual([])
    producer.start()
    expect(await Promise.all(publishes)).toEqual([low.id, critical.id])
    expect((await deliveries()).map(({ msgId }) => msgId)).toEqual([critical.id, low.id])
  })

  it('keeps at most its window in flight: the rest waits, and leaves (its publish resolving) as acks and nacks come', async () => {
    const { producer, deliveries, ack, nack, reports, reported } = directProducer({
      targets: [target('b', false)],
      limits: { window: 2 },
    })
    const publishes = [1, 2, 3, 4, 5].map(() => producer.publish(rawMessage()))
    const hasSettled = (index: number) => settled(publishes[index] as Promise<string>)
    expect(await hasSettled(1)).toBe(true)
    expect(await hasSettled(2)).toBe(false)
    expect((await deliveries()).map(({ id }) => id)).toEqual([1, 2])
    ack([1])
    expect(await hasSettled(2)).toBe(true)
    expect(await hasSettled(3)).toBe(false)
    expect((await deliveries()).map(({ id }) => id)).toEqual([1, 2, 3])
    nack(2)
    expect(await hasSettled(3)).toBe(true)
    expect((await deliveries()).map(({ id }) => id)).toEqual([1, 2, 3, 4])
    await advance(DIRECT_REPORT_MS)
    // Each counted once it left: published as the bus counts an accepted publish, routed as sent.
    expect(reports()[0]).toMatchObject({
      published: [{ type: 'RawEvent', count: 4 }],
      queued: 1,
      inFlight: 2,
    })
    expect(reported()).toEqual({
      'b/RawEvent': { routed: 4, sent: 4, delivered: 1, failed: 1, dropped: 1, sentDropped: 1 },
    })
  })

  it('queues a Reliable copy however full the queue grew within one publish: only the publish is refused, up front', async () => {
    const { producer, deliveries, reported } = directProducer({
      targets: [target('r', true), target('s', true)],
      limits: { window: 1, maxQueueSize: 2 },
    })
    void producer.publish(rawMessage()) // r goes, s waits
    void producer.publish(rawMessage()) // the backlog was 1: both wait, 3 in all
    await expect(producer.publish(rawMessage())).rejects.toMatchObject({ kind: 'QueueFull', currentSize: 3 })
    producer.close('gone', true)
    expect(await deliveries()).toHaveLength(1)
    expect(reported()).toEqual({ 'r/RawEvent': { routed: 1, sent: 1, queueFull: 1 } })
  })

  it('counts a copy in its retry’s backoff as backlog: a Reliable publish past it is refused', async () => {
    const { producer, nack, reports } = directProducer({
      limits: { maxQueueSize: 2, retry: { initialMs: 1_000, maxMs: 1_000, multiplier: 1, jitter: 0 } },
    })
    void producer.publish(rawMessage())
    void producer.publish(rawMessage())
    nack(1)
    nack(2)
    await expect(producer.publish(rawMessage())).rejects.toMatchObject({ kind: 'QueueFull', currentSize: 2 })
    await advance(DIRECT_REPORT_MS)
    expect(reports()).toMatchObject([{ queued: 2, inFlight: 0 }])
  })

  it('drops a BestEffort copy past its queue, and refuses a Reliable publish once the backlog is full', async () => {
    const { producer, deliveries, reported } = directProducer({
      targets: [target('b', false)],
      limits: { window: 1, maxQueueSize: 2 },
    })
    for (let i = 0; i < 4; i++) void producer.publish(rawMessage())
    expect(await deliveries()).toHaveLength(1)
    await advance(DIRECT_REPORT_MS)
    expect(reported()).toEqual({ 'b/RawEvent': { routed: 2, dropped: 1, sent: 1 } })

    const reliable = directProducer({ limits: { window: 1, maxQueueSize: 2 } })
    void reliable.producer.publish(rawMessage())
    void reliable.producer.publish(rawMessage())
    void reliable.producer.publish(rawMessage())
    await expect(reliable.producer.publish(rawMessage())).rejects.toMatchObject({
      kind: 'QueueFull',
      currentSize: 2,
      maxSize: 2,
    })
    await advance(DIRECT_REPORT_MS)
    expect(reliable.reported()).toEqual({ 'r/RawEvent': { routed: 1, sent: 1, queueFull: 1 } })
  })
})

describe('a direct channel’s producer shares a type with the hub', () => {
  it('sends the hub a copy of a shared type and resolves as the hub answered, once its own copies left', async () => {
    const { producer, copies, deliveries, ack } = directProducer({
      shared: ['RawEvent'],
      limits: { window: 1 },
    })
    const first = rawMessage()
    const second = rawMessage()
    expect(await producer.publish(first)).toBe(first.id)
    const waiting = producer.publish(second)
    expect(await settled(waiting)).toBe(false)
    ack([1])
    expect(await waiting).toBe(second.id)
    expect(copies).toEqual([
      { msgId: first.id, via: CHANNEL, seq: 1 },
      { msgId: second.id, via: CHANNEL, seq: 1 },
    ])
    expect(await deliveries()).toHaveLength(2)
  })

  it('counts a request’s takers from its terms, or has the hub count them when only the hub’s copy may', async () => {
    const { producer, copies } = directProducer({ shared: ['RawEvent'] })
    expect(await producer.publishRequest(rawMessage(), undefined)).toBe(1)
    expect(await producer.publishRequest(rawMessage(), CONSUMER)).toBe(1)
    const elsewhere = rawMessage()
    expect(await producer.publishRequest(elsewhere, ModuleId.Gamification)).toBeUndefined()
    expect(copies.at(-1)).toEqual({
      msgId: elsewhere.id,
      via: CHANNEL,
      seq: 1,
      count: { module: ModuleId.Gamification },
    })

    const alone = directProducer()
    expect(await alone.producer.publishRequest(rawMessage(), ModuleId.Gamification)).toBe(0)
    expect(alone.copies).toEqual([])
    const paced = directProducer({ shared: ['RawEvent'], limits: { window: 1 } })
    void paced.producer.publish(rawMessage())
    const waiting = paced.producer.publishRequest(rawMessage(), ModuleId.Gamification)
    expect(await settled(waiting)).toBe(false)
    paced.ack([1])
    expect(await waiting).toBeUndefined()
    const missed = directProducer({
      targets: [target('r', true, { minPriority: MessagePriority.High })],
      shared: ['RawEvent'],
    })
    expect(await missed.producer.publishRequest(rawMessage(), undefined)).toBeUndefined()
    expect(missed.copies.at(-1)?.count).toEqual({})
  })
})

describe('a direct channel’s producer settles what the consumer answers', () => {
  it('counts acks, the slow apart, and the latency of each; ids it does not hold change nothing', async () => {
    const { producer, ack, reports, reported } = directProducer()
    for (let i = 0; i < 3; i++) void producer.publish(rawMessage())
    ack([1, 99], [2])
    ack([1])
    await advance(DIRECT_REPORT_MS)
    expect(reported()).toEqual({ 'r/RawEvent': { routed: 3, sent: 3, delivered: 2, slowHandlers: 1 } })
    const [report] = reports()
    expect(report?.latency.map(({ sid, n }) => [sid, n.reduce((a, b) => a + b, 0)])).toEqual([['r', 2]])
    expect(report).toMatchObject({ queued: 0, inFlight: 1 })
  })

  it('drops a BestEffort copy its handler failed, retrying nothing', async () => {
    const { producer, nack, deliveries, reported } = directProducer({ targets: [target('b', false)] })
    void producer.publish(rawMessage())
    nack(1, 'Error: boom', { slow: true })
    await advance(10_000)
    expect(await deliveries()).toHaveLength(1)
    expect(reported()).toEqual({
      'b/RawEvent': { routed: 1, sent: 1, failed: 1, dropped: 1, sentDropped: 1, slowHandlers: 1 },
    })
  })

  it('retries a Reliable copy with the bus’s backoff, marked again, then dead-letters it with its attempts', async () => {
    const { producer, nack, deliveries, framesOf, reported } = directProducer()
    const message = rawMessage()
    void producer.publish(message)
    const failedAt = Date.now()
    nack(1)
    await advance(99)
    expect(await deliveries()).toHaveLength(1)
    await advance(1) // initialMs
    expect((await deliveries()).at(-1)).toEqual({
      sid: 'r',
      id: 2,
      msgId: message.id,
      again: true,
      timeoutMs: 1_000,
    })
    nack(2, 'Error: twice', { timedOut: false })
    await advance(199)
    expect(await deliveries()).toHaveLength(2)
    await advance(1) // initialMs × multiplier
    nack(3, 'Error: thrice')
    expect(framesOf('rdead')).toEqual([
      {
        t: 'rdead',
        id: CHANNEL,
        sid: 'r',
        msg: message,
        reason: 'MaxRetriesExceeded',
        attempts: 3,
        error: 'Error: thrice',
        firstFailedAt: failedAt,
      },
    ])
    await advance(DIRECT_REPORT_MS)
    expect(reported()).toEqual({
      'r/RawEvent': { routed: 1, sent: 1, failed: 3, retried: 2, deadLettered: 1 },
    })
  })

  it('caps the backoff at maxMs, and dead-letters a copy that timed out as DeliveryTimeout', async () => {
    const { producer, nack, deliveries, framesOf } = directProducer({
      limits: { maxRetryAttempts: 3, retry: { initialMs: 100, maxMs: 150, multiplier: 10, jitter: 0 } },
    })
    void producer.publish(rawMessage())
    nack(1)
    await advance(100)
    nack(2)
    await advance(149)
    expect(await deliveries()).toHaveLength(2)
    await advance(1)
    expect(await deliveries()).toHaveLength(3)
    nack(3)
    await advance(150)
    nack(4, 'Error: late', { timedOut: true })
    expect(framesOf('rdead').map(({ reason, attempts }) => [reason, attempts])).toEqual([
      ['DeliveryTimeout', 4],
    ])
    const named = directProducer({ limits: { maxRetryAttempts: 0 } })
    void named.producer.publish(rawMessage())
    named.nack(1, 'DeliveryTimeout: the handler took over 1000 ms')
    expect(named.framesOf('rdead').map(({ reason, attempts }) => [reason, attempts])).toEqual([
      ['DeliveryTimeout', 1],
    ])
  })

  it('keeps a jittered backoff within maxMs, jittering the capped value', async () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0)
    const { producer, nack, deliveries } = directProducer({
      limits: { maxRetryAttempts: 3, retry: { initialMs: 100, maxMs: 150, multiplier: 10, jitter: 0.5 } },
    })
    void producer.publish(rawMessage())
    nack(1)
    await advance(50)
    nack(2)
    await advance(74)
    expect(await deliveries()).toHaveLength(2)
    await advance(1) // 150 × (1 − 0.5), not 1,000 × (1 − 0.5) capped
    expect(await deliveries()).toHaveLength(3)
    random.mockReturnValue(1)
    nack(3)
    await advance(149)
    expect(await deliveries()).toHaveLength(3)
    await advance(1) // 150, not 150 × (1 + 0.5)
    expect(await deliveries()).toHaveLength(4)
  })

  it('no longer counts a retry sent as waiting: at the end it is handed back once', async () => {
    const { producer, nack, toHub, reports } = directProducer()
    void producer.publish(rawMessage())
    nack(1)
    await advance(DIRECT_REPORT_MS)
    producer.close('gone', true)
    expect(reports().map(({ queued, inFlight }) => [queued, inFlight])).toEqual([
      [0, 1],
      [0, 0],
    ])
    expect(toHub.filter((frame) => frame.t === 'pub')).toHaveLength(1)
  })

  it('keeps each retry within its jitter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const { producer, nack, deliveries } = directProducer({
      limits: { retry: { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 } },
    })
    void producer.publish(rawMessage())
    nack(1)
    await advance(49)
    expect(await deliveries()).toHaveLength(1)
    await advance(1) // 100 × (1 − 0.5)
    expect(await deliveries()).toHaveLength(2)
    vi.mocked(Math.random).mockReturnValue(1)
    nack(2)
    await advance(299)
    expect(await deliveries()).toHaveLength(2)
    await advance(1) // 200 × (1 + 0.5)
    expect(await deliveries()).toHaveLength(3)
  })

  it('dead-letters a Reliable copy its subscription ended before it ran as Unsubscribed, keeping an earlier attempt’s error', async () => {
    const { producer, nack, framesOf, reported } = directProducer({
      targets: [target('r', true), target('b', false)],
    })
    const first = rawMessage()
    void producer.publish(first)
    nack(1, 'Unsubscribed: the subscription ended before this delivery ran', { gone: true })
    nack(2, 'Unsubscribed: the subscription ended before this delivery ran', { gone: true })
    const second = rawMessage()
    void producer.publish(second)
    nack(3)
    await advance(100)
    nack(5, 'Unsubscribed: gone', { gone: true })
    expect(
      framesOf('rdead').map(({ msg, reason, attempts, error }) => [msg.id, reason, attempts, error]),
    ).toEqual([
      [first.id, 'Unsubscribed', 0, 'Unsubscribed: the subscription ended before this delivery ran'],
      [second.id, 'Unsubscribed', 1, 'Error: boom'],
    ])
    await advance(DIRECT_REPORT_MS)
    expect(reported()).toMatchObject({
      'r/RawEvent': { routed: 2, sent: 2, failed: 1, retried: 1, deadLettered: 2 },
      'b/RawEvent': { routed: 2, sent: 2, dropped: 1, sentDropped: 1 },
    })
  })
})

describe('a direct channel’s producer reports', () => {
  it('every period what changed since the last report, and nothing while quiet', async () => {
    const { producer, ack, reports } = directProducer()
    void producer.publish(rawMessage())
    void producer.publish(rawMessage())
    await advance(DIRECT_REPORT_MS)
    ack([1, 2])
    await advance(DIRECT_REPORT_MS)
    await advance(DIRECT_REPORT_MS * 4)
    const counts = (report: DirectReport | undefined) =>
      report?.counts.map(({ routed, sent, delivered }) => ({ routed, sent, delivered }))
    expect(reports()).toHaveLength(2)
    const [first, second] = reports()
    expect(first).toMatchObject({ published: [{ type: 'RawEvent', count: 2 }], queued: 0, inFlight: 2 })
    expect(counts(first)).toEqual([{ routed: 2, sent: 2, delivered: 0 }])
    expect(second).toMatchObject({ published: [], queued: 0, inFlight: 0 })
    expect(counts(second)).toEqual([{ routed: 0, sent: 0, delivered: 2 }])
  })

  it('reports while copies wait even with nothing new counted', async () => {
    const { producer, reports } = directProducer({ started: false })
    void producer.publish(rawMessage())
    await advance(DIRECT_REPORT_MS)
    await advance(DIRECT_REPORT_MS)
    expect(reports()).toEqual([
      { published: [], counts: [], latency: [], queued: 1, inFlight: 0 },
      { published: [], counts: [], latency: [], queued: 1, inFlight: 0 },
    ])
  })

  it('samples the first messages of each period for the hub’s tail while it streams, marking a period it cut short', async () => {
    const { producer, reports } = directProducer({
      targets: [target('r', true), target('b', false)],
      limits: { window: 256, maxQueueSize: 256 },
    })
    void producer.publish(rawMessage())
    await advance(DIRECT_REPORT_MS)
    producer.setTailing(true)
    const first = rawMessage()
    void producer.publish(first)
    await advance(DIRECT_REPORT_MS)
    const flood = Array.from({ length: DIRECT_TAIL_SAMPLE + 1 }, () => rawMessage())
    for (const message of flood) void producer.publish(message)
    await advance(DIRECT_REPORT_MS)
    for (let i = 0; i < 3; i++) void producer.publish(rawMessage())
    producer.setTailing(false)
    await advance(DIRECT_REPORT_MS)
    const [untailed, one, many, stopped] = reports()
    expect(untailed).not.toHaveProperty('tail')
    expect(one?.tail).toEqual([{ msg: first, routedTo: 2 }])
    expect(one?.tailSampled).toBe(false)
    expect(many?.tail?.map(({ msg }) => msg.id)).toEqual(
      flood.slice(0, DIRECT_TAIL_SAMPLE).map(({ id }) => id),
    )
    expect(many?.tailSampled).toBe(true)
    expect(stopped).not.toHaveProperty('tail')
  })
})

describe('a direct channel’s producer, as its channel ends', () => {
  it('hands back each unacknowledged Reliable copy, drops the BestEffort ones, reports for the last time and says why', async () => {
    const { producer, channel, toHub, ended, nack, deliveries } = directProducer({
      targets: [target('r', true), target('b', false)],
      limits: { window: 4 },
    })
    const failing = rawMessage()
    void producer.publish(failing) // ids 1 (r) and 2 (b)
    nack(1)
    const inFlight = rawMessage()
    void producer.publish(inFlight) // ids 3 and 4
    const waiting = rawMessage()
    const waitingPublish = producer.publish(waiting) // r goes out as id 5, b waits: the window is full
    toHub.length = 0
    producer.close('the consumer went away', true)
    expect(await settled(waitingPublish)).toBe(true)
    const [report] = toHub.filter((frame) => frame.t === 'rstat')
    expect(toHub.filter((frame) => frame.t === 'pub')).toEqual([
      { t: 'pub', rid: 0, msg: inFlight, via: CHANNEL, to: 'r' },
      { t: 'pub', rid: 0, msg: waiting, via: CHANNEL, to: 'r' },
      {
        t: 'pub',
        rid: 0,
        msg: failing,
        via: CHANNEL,
        to: 'r',
        prior: { attempts: 1, error: 'Error: boom', firstFailedAt: expect.any(Number) },
      },
    ])
    expect(report).toMatchObject({ t: 'rstat', report: { final: true, queued: 0, inFlight: 0 } })
    expect(toHub.at(-1)).toEqual({ t: 'rdown', id: CHANNEL, reason: 'the consumer went away' })
    expect(channel.peer.isClosed()).toBe(true)
    expect(ended).toEqual([false])
    // The retry's timer and the report's went with it.
    expect(vi.getTimerCount()).toBe(0)
    await advance(10_000)
    expect(await deliveries()).toHaveLength(5)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('marks a Reliable copy that never left as unsent, and says nothing of why when the hub ended it', async () => {
    const { producer, toHub, reported } = directProducer({ started: false })
    const message = rawMessage()
    void producer.publish(message)
    producer.close('withdrawn by the hub', false)
    expect(toHub.filter((frame) => frame.t === 'pub')).toEqual([
      { t: 'pub', rid: 0, msg: message, via: CHANNEL, to: 'r', unsent: true },
    ])
    expect(toHub.filter((frame) => frame.t === 'rdown')).toEqual([])
    // The hub routes it as if it never came this way: not counted here.
    expect(reported()).toEqual({})
    producer.close('again', true)
    expect(toHub.filter((frame) => frame.t === 'rstat')).toHaveLength(1)
  })

  it('counts the dropped BestEffort copies, and which of them had left', async () => {
    const { producer, reported } = directProducer({ targets: [target('b', false)], limits: { window: 1 } })
    void producer.publish(rawMessage())
    void producer.publish(rawMessage())
    producer.close('gone', true)
    expect(reported()).toEqual({ 'b/RawEvent': { routed: 2, sent: 1, dropped: 2, sentDropped: 1 } })
  })
})

describe('a direct channel’s producer counts a publish once', () => {
  it('though its copy left after waiting and was handed back later', async () => {
    const { producer, ack, reports } = directProducer({ limits: { window: 1 } })
    void producer.publish(rawMessage())
    void producer.publish(rawMessage())
    ack([1])
    producer.close('gone', true)
    expect(reports().flatMap(({ published }) => published)).toEqual([{ type: 'RawEvent', count: 2 }])
  })
})

describe('a direct channel’s producer keeps no process alive by itself', () => {
  it('its report timer is unref’d', () => {
    vi.useRealTimers()
    const refTimers = () =>
      process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    const before = refTimers()
    const { producer } = directProducer()
    expect(refTimers()).toBe(before)
    producer.close('done', true)
  })
})

describe('a direct channel the hub withdraws', () => {
  it('takes nothing new, hands back what waits at once, and closes once what is in flight is acknowledged', async () => {
    const { producer, toHub, ended, ack, deliveries } = directProducer({ limits: { window: 1 } })
    void producer.publish(rawMessage())
    const waiting = rawMessage()
    void producer.publish(waiting)
    producer.withdraw('permission revoked')
    expect(ended).toEqual([true])
    expect(producer.isOpen).toBe(true)
    expect(toHub.filter((frame) => frame.t === 'pub')).toEqual([
      { t: 'pub', rid: 0, msg: waiting, via: CHANNEL, to: 'r', unsent: true },
    ])
    producer.withdraw('twice') // one drain
    expect(ended).toEqual([true])
    ack([1])
    expect(producer.isOpen).toBe(false)
    expect(ended).toEqual([true, false])
    expect(vi.getTimerCount()).toBe(0) // the drain's timer went with it
    expect(toHub.filter((frame) => frame.t === 'rdown')).toEqual([])
    expect(await deliveries()).toHaveLength(1)
  })

  it('closes at once with nothing in flight', () => {
    const { producer, ended } = directProducer()
    producer.withdraw('permission revoked')
    expect(producer.isOpen).toBe(false)
    expect(ended).toEqual([true, false])
  })

  it('hands back a retry gone before it ran with the attempts that did run and their error', async () => {
    const { producer, toHub, nack } = directProducer()
    const message = rawMessage()
    void producer.publish(message)
    nack(1)
    await advance(100)
    producer.withdraw('permission revoked')
    nack(2, 'Unsubscribed: the subscription ended before this delivery ran', { gone: true })
    expect(toHub.filter((frame) => frame.t === 'pub')).toEqual([
      {
        t: 'pub',
        rid: 0,
        msg: message,
        via: CHANNEL,
        to: 'r',
        prior: { attempts: 1, error: 'Error: boom', firstFailedAt: expect.any(Number) },
      },
    ])
  })

  it('hands back a copy that fails meanwhile instead of retrying it, and one gone with whether its attempt ran', async () => {
    const { producer, toHub, nack } = directProducer()
    const failing = rawMessage()
    const ran = rawMessage()
    const notRan = rawMessage()
    for (const message of [failing, ran, notRan]) void producer.publish(message)
    producer.withdraw('permission revoked')
    nack(1)
    nack(2, 'Unsubscribed: ended by the bus while it ran', { gone: true, ran: true })
    nack(3, 'Unsubscribed: the subscription ended before this delivery ran', { gone: true })
    expect(producer.isOpen).toBe(false)
    expect(toHub.filter((frame) => frame.t === 'pub')).toEqual([
      {
        t: 'pub',
        rid: 0,
        msg: failing,
        via: CHANNEL,
        to: 'r',
        prior: { attempts: 1, error: 'Error: boom', firstFailedAt: expect.any(Number) },
      },
      { t: 'pub', rid: 0, msg: ran, via: CHANNEL, to: 'r', prior: { attempts: 1 } },
      { t: 'pub', rid: 0, msg: notRan, via: CHANNEL, to: 'r' },
    ])
    expect(toHub.filter((frame) => frame.t === 'rdead')).toEqual([])
  })

  it('hands back a copy waiting for its retry at once, and the rest once its drain times out', async () => {
    const { producer, toHub, nack } = directProducer()
    const retrying = rawMessage()
    const unanswered = rawMessage()
    void producer.publish(retrying)
    void producer.publish(unanswered)
    nack(1)
    producer.withdraw('permission revoked')
    expect(toHub.filter((frame) => frame.t === 'pub').map(({ msg }) => (msg as Envelope).id)).toEqual([
      retrying.id,
    ])
    producer.withdraw('twice') // no second drain
    await advance(999)
    expect(producer.isOpen).toBe(true)
    // Its 1,000 ms, and a turn more: what arrived by then is read first (see peer-timers).
    await advance(2)
    expect(producer.isOpen).toBe(false)
    expect(toHub.filter((frame) => frame.t === 'pub').map(({ msg }) => (msg as Envelope).id)).toEqual([
      retrying.id,
      unanswered.id,
    ])
    expect(vi.getTimerCount()).toBe(0)
  })
})
