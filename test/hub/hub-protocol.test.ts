/**
 * The hub's protocol handling over real MessagePorts in this thread: garbage frames (generated),
 * heartbeats, duplicate identities, privileged streams and dead-letter commands.
 */
import { MessageChannel } from 'node:worker_threads'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import {
  BusMessage,
  type createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { OUTSIDE_SETTLE_MS } from '../../src/main/bus/internal.js'
import { createHub, type Hub, type HubOptions } from '../../src/main/hub/index.js'
import { STREAM_BUFFER_LIMIT_BYTES } from '../../src/main/hub/inspector-streams.js'
import { ACK_GRACE_MS } from '../../src/main/hub/pending-ack.js'
import { EARLY_ANSWER_BATCH } from '../../src/main/hub/session.js'
import type { HubCore } from '../../src/main/hub/types.js'
import { shapedCloneCodec, textCodec } from '../../src/shared/codec.js'
import {
  connectBus,
  isRecoverable,
  type MessageType,
  type Permissions,
  type PermissionsOf,
} from '../../src/shared/index.js'
import type { Envelope } from '../../src/shared/message.js'
import { packBatch } from '../../src/shared/message-shapes.js'
import { type BusMetrics, busMetricsSchema, metricsPointSchema } from '../../src/shared/metrics-snapshot.js'
import { fromDomPort, fromNodePort, type Port } from '../../src/shared/port.js'
import { MAX_BATCH } from '../../src/shared/wire.js'
import { expectAccounted, rawEvent, rawMessage, sleep, stallThisThread, waitFor } from '../helpers.js'
import { afterThisTest, type RawFrame, rawPeer, startHub, subscribeRawEvents } from './fixture.js'

const everything = { publish: '*', subscribe: '*' } as const
const setup = (hubOptions: HubOptions = {}) => startHub({ maxRetryAttempts: 0 }, hubOptions)

function publishRaw(bus: ReturnType<typeof createEventBus>, eventType: string) {
  return bus.publish(
    BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType }))),
  )
}

describe('hub protocol', () => {
  it('answers generated garbage with error frames and keeps serving other endpoints', async () => {
    const { bus, hub } = await setup()
    const good = await connectBus(new MessageChannel().port1, { connectTimeoutMs: 1 }).catch(() => undefined)
    expect(good).toBeUndefined() // a port with no hub behind it never gets a welcome
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: ModuleId.Storage, permissions: everything })
    const storage = await connectBus(port2)
    afterThisTest(() => storage.close())
    const received: string[] = []
    await storage.subscribe(
      ModuleId.Storage,
      { types: ['RawEvent'] },
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      (m) => {
        received.push(m.payload.data.eventType)
      },
    )
    const attacker = rawPeer(hub, 'intruder')
    attacker.send([{ t: 'hello', v: 1 }])

    const garbageFrame = fc.oneof(
      fc.anything(),
      fc.record({
        t: fc.constantFrom('pub', 'sub', 'ack', 'nack', 'dlq', 'stream', 'hello', '__proto__'),
        rid: fc.anything(),
      }),
      fc.record({ t: fc.constant('pub'), rid: fc.nat(), msg: fc.anything() }),
      fc.record({ t: fc.constant('ack'), ids: fc.array(fc.anything()) }),
      fc.record(
        { t: fc.constant('ack'), ids: fc.array(fc.nat()), slow: fc.oneof(fc.array(fc.nat()), fc.anything()) },
        { requiredKeys: ['t', 'ids'] },
      ),
      fc.record({
        t: fc.constant('nack'),
        id: fc.nat(),
        error: fc.string(),
        timedOut: fc.boolean(),
        slow: fc.anything(),
        gone: fc.anything(),
      }),
      // Batches and direct-channel frames, none of them for a channel the attacker owns.
      fc.record({ t: fc.constant('pubs'), rid: fc.nat(), msgs: fc.array(fc.anything(), { maxLength: 5 }) }),
      // Batches as rows, with templates of any form.
      fc.record({
        t: fc.constant('pubs'),
        rid: fc.nat(),
        msgs: fc.array(fc.array(fc.anything(), { maxLength: 9 }), { maxLength: 5 }),
        shapes: fc.oneof(
          fc.array(fc.array(fc.oneof(fc.string(), fc.constant(0), fc.anything()))),
          fc.anything(),
        ),
      }),
      fc.record({
        t: fc.constantFrom('rsync', 'rstat', 'rdead', 'rdown', 'rrel', 'rfin'),
        id: fc.string(),
        seq: fc.nat(),
        report: fc.anything(),
        reason: fc.string(),
        ids: fc.array(fc.string(), { maxLength: 3 }),
        outcomes: fc.anything(),
      }),
      fc.record({
        t: fc.constant('perr'),
        counts: fc.array(fc.record({ sid: fc.string(), count: fc.integer() }), { maxLength: 3 }),
      }),
      fc.record({
        t: fc.constant('sub'),
        rid: fc.nat(),
        module: fc.string(),
        filter: fc.anything(),
        mode: fc.anything(),
      }),
      fc.constant(JSON.parse('{"t":"pub","rid":1,"msg":{"__proto__":{"polluted":true}}}')),
      fc.string({ minLength: 1000, maxLength: 5000 }),
    )
    let sent = 0
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(garbageFrame, { maxLength: 10 }), fc.anything()), async (unit) => {
        attacker.send(unit)
        sent++
        await publishRaw(bus, `during-${sent}`)
      }),
      { numRuns: 150 },
    )
    await waitFor(() => received.length === sent)
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
    // The attacker's answers travel on its own port: no order with the deliveries to storage.
    await waitFor(() => attacker.frames.some((f) => f.t === 'err'))
    expect(
      hub
        .attachments()
        .map((a) => a.module)
        .sort(),
    ).toEqual(['intruder', 'storage'])
    const metrics = await bus.metrics()
    expect(metrics.messagesPublished).toBe(sent)
    // Whatever the attacker sent, the metrics are still what the inspector expects.
    const checked = busMetricsSchema.safeParse(metrics)
    expect(checked.success ? [] : checked.error.issues).toEqual([])
  })

  it('answers at most 100 bad frames a second, and as many again each second, the wall clock set back or not', async () => {
    const { hub } = await setup()
    const noisy = rawPeer(hub, 'noisy')
    const errors = () => noisy.frames.filter((frame) => frame.t === 'err').length
    const bogus = (count: number) => Array.from({ length: count }, () => ({ t: 'bogus' }))
    noisy.send([{ t: 'hello', v: 1 }, ...bogus(150)])
    await waitFor(() => errors() === 100)
    // The system clock is set an hour back (a time sync, a user's change), and keeps running.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    afterThisTest(() => {
      vi.useRealTimers()
    })
    vi.setSystemTime(Date.now() - 3_600_000)
    await sleep(1100)
    noisy.send(bogus(150))
    await waitFor(() => errors() === 200)
    await sleep(100)
    expect(errors()).toBe(200) // the second's budget, no more
    expect(hub.attachments().map((a) => a.module)).toContain('noisy')
  })

  it('keeps a second’s budget of error answers spent until that second ends', async () => {
    let now = 0
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now)
    afterThisTest(() => clock.mockRestore())
    const { hub } = await setup()
    const noisy = rawPeer(hub, 'noisy')
    const errors = () => noisy.frames.filter((frame) => frame.t === 'err').length
    // Each burst ends with a request refused as a request (never rate-limited): once its answer is
    // in, every answer the burst got is in.
    const burst = (rid: number) => [
      ...Array.from({ length: 150 }, () => ({ t: 'bogus' })),
      { t: 'unsub', rid, sid: 'none' },
    ]
    const answered = (rid: number) => waitFor(() => noisy.frames.some((frame) => frame.rid === rid))
    noisy.send([{ t: 'hello', v: 1 }, ...burst(1)])
    await answered(1)
    expect(errors()).toBe(100)
    now = 999
    noisy.send(burst(2))
    await answered(2)
    expect(errors()).toBe(100)
    now = 1000
    noisy.send(burst(3))
    await answered(3)
    expect(errors()).toBe(200)
  })

  it('refuses frames before hello and a wrong protocol version', async () => {
    const { hub } = await setup()
    const early = rawPeer(hub, 'early')
    early.send([{ t: 'metrics', rid: 1 }])
    await waitFor(() => early.frames.length > 0)
    expect(early.frames[0]).toMatchObject({ t: 'err', error: { data: { kind: 'MessageRejected' } } })
    const future = rawPeer(hub, 'future')
    future.send([{ t: 'hello', v: 99 }])
    await waitFor(() => future.frames.some((f) => f.t === 'bye'))
    expect(JSON.stringify(future.frames)).toContain('protocol version 99 is not supported')
  })

  it('takes a nack that says the handler timed out as a timeout of the subscription’s handler, another as its error', async () => {
    const { bus, hub } = await setup()
    const peer = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(peer, ModuleId.Storage, DeliveryMode.Reliable({ timeoutMs: 700 }))
    for (const eventType of ['timed out', 'failed']) await publishRaw(bus, eventType)
    await waitFor(() => peer.frames.filter((f) => f.t === 'dlv').length === 2)
    const [timedOut, failed] = peer.frames.filter((f) => f.t === 'dlv').map((f) => f.id)
    peer.send([
      { t: 'nack', id: timedOut, error: 'Thrown: too slow', timedOut: true },
      { t: 'nack', id: failed, error: 'RangeError: out of disk', timedOut: false },
    ])
    await waitFor(() => bus.deadLetters.list().length === 2)
    const byEvent = (eventType: string) =>
      bus.deadLetters
        .list()
        .find((entry) => (entry.message.payload.data as { eventType: string }).eventType === eventType)
    expect(byEvent('timed out')).toMatchObject({
      reason: 'DeliveryTimeout',
      lastError: expect.stringContaining('700'),
    })
    expect(byEvent('failed')).toMatchObject({
      reason: 'MaxRetriesExceeded',
      lastError: 'RangeError: out of disk',
    })
  })

  it('times out what an endpoint still connected never settles: past its handler timeout and a grace second, the retry goes out, then the dead letter', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 1, retry: { initialMs: 1, maxMs: 1 } })
    const peer = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(peer, ModuleId.Storage, DeliveryMode.Reliable({ timeoutMs: 200 }))
    const sentAt = performance.now()
    await publishRaw(bus, 'never settled')
    const deliveries = () => peer.frames.filter((frame) => frame.t === 'dlv')
    await waitFor(() => deliveries().length === 2, 5_000)
    // The hub waited out the timeout and its grace before counting the first attempt as failed.
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(200 + ACK_GRACE_MS)
    expect((await bus.metrics()).subscriptions[0]).toMatchObject({ failed: 1, retried: 1, inFlight: 1 })
    await waitFor(() => bus.deadLetters.list().length === 1, 5_000)
    expect(bus.deadLetters.list()[0]).toMatchObject({
      reason: 'DeliveryTimeout',
      attempts: 2,
      lastError: expect.stringContaining('DeliveryTimeout'),
    })
    // Given up on, neither is still awaited; an ack after that settles nothing twice.
    const [connection] = (await (hub as unknown as HubCore).metrics()).connections ?? []
    expect(connection?.awaitingAck).toBe(0)
    peer.send([{ t: 'ack', ids: deliveries().map((frame) => frame.id) }])
    await sleep(50)
    expect((await bus.metrics()).subscriptions[0]).toMatchObject({
      delivered: 0,
      failed: 2,
      deadLettered: 1,
      inFlight: 0,
    })
  })

  it('rejects each request an invalid batch of publishes names, a batch’s worth at most, and routes nothing', async () => {
    const { bus, hub } = await setup()
    const peer = rawPeer(hub, ModuleId.DataCapture)
    const msg = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    peer.send([
      { t: 'hello', v: 1 },
      // Three requests in a frame the hub cannot read (an unknown field): each is answered.
      { t: 'pubs', rid: 10, msgs: [msg, msg, msg], bogus: 1 },
      // An empty batch still names its first request.
      { t: 'pubs', rid: 20, msgs: [] },
      // One past the largest batch: no more answers than a batch can have requests.
      { t: 'pubs', rid: 100_000, msgs: new Array(MAX_BATCH + 1).fill(msg) },
    ])
    await waitFor(() => peer.frames.filter((f) => f.t === 'rej').length >= 4 + MAX_BATCH)
    await sleep(20)
    const rejected = peer.frames.filter((f) => f.t === 'rej').map((f) => f.rid as number)
    expect(rejected.slice(0, 4)).toEqual([10, 11, 12, 20])
    expect(rejected.slice(4)).toEqual(Array.from({ length: MAX_BATCH }, (_, i) => 100_000 + i))
    expect(JSON.stringify(peer.frames.find((f) => f.t === 'rej'))).toContain("invalid frame 'pubs'")
    expect((await bus.metrics()).messagesPublished).toBe(0)
  })

  it('refuses a publish frame whose channel markers do not go together, naming the mix, and routes nothing', async () => {
    const { bus, hub } = await setup()
    const peer = rawPeer(hub, ModuleId.DataCapture)
    const msg = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const mixes: [object, string][] = [
      [{ seq: 0 }, '`seq` and `to` need `via`'],
      [{ via: 'r.1', seq: 0, to: 's' }, '`seq` and `to` exclude each other'],
      [{ via: 'r.1', held: true }, '`held` and `unsent` need `to`'],
      [{ via: 'r.1', to: 's', held: true, unsent: true }, '`held` and `unsent` exclude each other'],
      [{ via: 'r.1', to: 's', custody: true }, '`custody` needs `held`'],
      [{ via: 'r.1', to: 's', count: {} }, '`count` goes only on a publish, not on a hand-back (`to`)'],
      ...[{ via: 'r.1' }, { via: 'r.1', to: 's', held: true }, { via: 'r.1', to: 's', unsent: true }].map(
        (markers): [object, string] => [
          { ...markers, prior: { attempts: 1, error: 'Error: boom', firstFailedAt: 0 } },
          '`prior` goes only with `to`, on a copy that left (not `held` or `unsent`)',
        ],
      ),
    ]
    peer.send([
      { t: 'hello', v: 1 },
      ...mixes.map(([markers], i) => ({ t: 'pub', rid: i + 1, msg, ...markers })),
    ])
    // Each names its request, so each request is rejected (its caller gets an answer).
    await waitFor(() => peer.frames.filter((f) => f.t === 'rej').length === mixes.length)
    mixes.forEach(([, problem], i) => {
      const rejection = JSON.stringify(peer.frames.find((f) => f.t === 'rej' && f.rid === i + 1))
      expect(rejection).toContain('MessageRejected')
      expect(rejection).toContain(problem)
    })
    expect((await bus.metrics()).messagesPublished).toBe(0)
  })

  it('answers a request’s publish (`count`) that nothing (of its module) took with `res` 0, others as any publish', async () => {
    const { bus, hub } = await setup()
    await bus.subscribe(
      ModuleId.AnalysisEngine,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      () => {},
    )
    const storage = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(storage, ModuleId.Storage, { kind: 'BestEffort' })
    const peer = rawPeer(hub, ModuleId.DataCapture)
    const msg = () => BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    peer.send([
      { t: 'hello', v: 1 },
      { t: 'pub', rid: 1, msg: msg(), count: {} },
      { t: 'pub', rid: 2, msg: msg(), count: { module: ModuleId.Storage } },
      { t: 'pub', rid: 3, msg: msg(), count: { module: ModuleId.Gamification } },
      // In a batch: rid 4 a plain publish, 5 a request only Storage's subscription counts for, 6 one
      // for Gamification's.
      {
        t: 'pubs',
        rid: 4,
        msgs: [msg(), msg(), msg()],
        count: [
          { at: 1, module: ModuleId.Storage },
          { at: 2, module: ModuleId.Gamification },
        ],
      },
      // Malformed marks (of two messages): the whole frame is refused, each of its publishes answered.
      ...[
        [{ at: 2 }],
        [{ at: 0 }, { at: 0 }],
        [{ at: 1 }, { at: 0 }],
        [{ at: -1 }],
        [{ at: 0, module: 'Storage' }],
        [{ at: 0, modul: 'storage' }],
        ['0'],
      ].map((count, i) => ({ t: 'pubs', rid: 10 + 2 * i, msgs: [msg(), msg()], count })),
      { t: 'pub', rid: 30, msg: msg(), count: { module: 'Storage' } },
    ])
    await waitFor(() => peer.frames.filter((f) => f.t === 'rej').length === 15)
    const answers = peer.frames.filter((f) => f.t === 'res' || f.t === 'okr')
    expect(answers).toEqual(
      expect.arrayContaining([
        { t: 'res', rid: 3, ok: 0 },
        { t: 'res', rid: 6, ok: 0 },
      ]),
    )
    expect(answers.filter((f) => f.t === 'res')).toHaveLength(2)
    const covered = peer.frames
      .filter((f): f is RawFrame & { from: number; to: number } => f.t === 'okr')
      .flatMap(({ from, to }) => Array.from({ length: to - from + 1 }, (_, i) => from + i))
    expect(covered.sort((a, b) => a - b)).toEqual([1, 2, 4, 5])
    const refusals = peer.frames.filter((f) => f.t === 'rej').map((f) => JSON.stringify(f))
    for (const refusal of refusals.slice(0, 14))
      expect(refusal).toContain(
        '`count` marks requests among `msgs` as { at: an index into msgs, module?: a module id }, in increasing order of `at`',
      )
    expect(refusals[14]).toContain('"rid":30')
    expect((await bus.metrics()).messagesPublished).toBe(6)
  })

  it('takes a publish sent `again` after a dropped connection only if the module’s connection before had not', async () => {
    const { bus, hub } = await setup()
    const msg = (source: string = ModuleId.DataCapture) =>
      BusMessage.create(source, MessagePayload.RawEvent(rawEvent()))
    const taken = msg()
    const request = msg() // a request is a publish too, though none answers this one
    const first = rawPeer(hub, ModuleId.DataCapture)
    first.send([
      { t: 'hello', v: 1, again: true },
      { t: 'pubs', rid: 1, msgs: [taken] },
      { t: 'pub', rid: 2, msg: request, count: {} },
    ])
    await waitFor(() => first.frames.some((f) => f.t === 'okr') && first.frames.some((f) => f.t === 'res'))
    first.port.close() // its answers may as well have been lost: the endpoint cannot tell
    await waitFor(() => hub.attachments().length === 0)
    const second = rawPeer(hub, ModuleId.DataCapture)
    const unsent = msg()
    second.send([
      { t: 'hello', v: 1 },
      { t: 'pubs', rid: 1, msgs: [taken, request, unsent], again: true },
      { t: 'pubs', rid: 4, msgs: [msg()], count: [{ at: 0 }], again: true },
    ])
    await waitFor(() => second.frames.some((f) => f.t === 'rej'))
    expect(second.frames.find((f) => f.t === 'okr')).toMatchObject({ from: 1, to: 3 })
    expect(JSON.stringify(second.frames.find((f) => f.t === 'rej'))).toContain(
      '`again` and `count` exclude each other',
    )
    // What the first connection took is not published twice; the one it never got is.
    const metrics = await bus.metrics()
    expect(metrics.messagesPublished).toBe(3)
    // Another module's connection knows nothing of DataCapture's: its message with that id is published.
    const other = rawPeer(hub, ModuleId.Storage)
    other.send([
      { t: 'hello', v: 1 },
      { t: 'pubs', rid: 1, msgs: [{ ...msg(ModuleId.Storage), id: taken.id }], again: true },
    ])
    await waitFor(() => other.frames.some((f) => f.t === 'okr'))
    expect((await bus.metrics()).messagesPublished).toBe(4)
  })

  it('remembers nothing of a connection whose hello did not say it sends again', async () => {
    const { bus, hub } = await setup()
    const msg = () => BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const remembered = msg()
    const forgotten = msg()
    for (const [hello, message] of [
      [{ t: 'hello', v: 1, again: true }, remembered],
      [{ t: 'hello', v: 1 }, forgotten],
    ] as const) {
      const peer = rawPeer(hub, ModuleId.DataCapture)
      peer.send([hello, { t: 'pubs', rid: 1, msgs: [message] }])
      await waitFor(() => peer.frames.some((f) => f.t === 'okr'))
      peer.port.close()
      await waitFor(() => hub.attachments().length === 0)
    }
    // The connection that did not say so is not remembered (a module's, which never sends again):
    // its message sent again is published twice; the remembering connection's before it is still known.
    const last = rawPeer(hub, ModuleId.DataCapture)
    last.send([
      { t: 'hello', v: 1, again: true },
      { t: 'pubs', rid: 1, msgs: [remembered, forgotten], again: true },
    ])
    await waitFor(() => last.frames.some((f) => f.t === 'okr'))
    expect(last.frames.find((f) => f.t === 'okr')).toMatchObject({ from: 1, to: 2 })
    expect((await bus.metrics()).messagesPublished).toBe(3)
  })

  it('remembers what a module’s last four ended connections took, and no older one’s', async () => {
    const { bus, hub } = await setup()
    const ids: string[] = []
    for (let connection = 0; connection < 5; connection++) {
      const peer = rawPeer(hub, ModuleId.DataCapture)
      const msg = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
      ids.push(msg.id)
      peer.send([
        { t: 'hello', v: 1, again: true },
        { t: 'pubs', rid: 1, msgs: [msg] },
      ])
      await waitFor(() => peer.frames.some((f) => f.t === 'okr'))
      peer.port.close()
      await waitFor(() => hub.attachments().length === 0)
    }
    // Each sent again: the oldest connection's is forgotten and published again, the others not.
    const last = rawPeer(hub, ModuleId.DataCapture)
    const messages = ids.map((id) => ({
      ...BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
      id,
    }))
    last.send([
      { t: 'hello', v: 1 },
      { t: 'pubs', rid: 1, msgs: messages, again: true },
    ])
    await waitFor(() => last.frames.some((f) => f.t === 'okr'))
    expect(last.frames.find((f) => f.t === 'okr')).toMatchObject({ from: 1, to: 5 })
    expect((await bus.metrics()).messagesPublished).toBe(6)
  })

  it('remembers a publish sent again as taken by the connection that sent it, however many drops follow', async () => {
    const { bus, hub } = await setup()
    const message = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    // Taken once, then sent again by each of five connections in turn, each dropping before it
    // reads the answer: the first connection is forgotten by the last, the ones that sent it
    // again are not.
    for (let connection = 0; connection < 6; connection++) {
      const peer = rawPeer(hub, ModuleId.DataCapture)
      peer.send([
        { t: 'hello', v: 1, again: true },
        connection === 0
          ? { t: 'pubs', rid: 1, msgs: [message] }
          : { t: 'pubs', rid: 1, msgs: [message], again: true },
      ])
      await waitFor(() => peer.frames.some((f) => f.t === 'okr'))
      peer.port.close()
      await waitFor(() => hub.attachments().length === 0)
    }
    expect((await bus.metrics()).messagesPublished).toBe(1)
  })

  it('notices an endpoint that stops answering heartbeats and parks its Reliable subscriptions', async () => {
    const { bus, hub } = await setup({ heartbeatMs: 30, reconnectGraceMs: 60_000 })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: ModuleId.Storage, permissions: everything })
    const frames: { t: string; rid?: number }[] = []
    port2.on('message', (unit: typeof frames) => frames.push(...unit))
    // Speaks just enough protocol to subscribe, then hangs: never answers a ping.
    port2.postMessage([
      { t: 'hello', v: 1 },
      {
        t: 'sub',
        rid: 1,
        module: 'storage',
        filter: { types: ['RawEvent'] },
        mode: { kind: 'Reliable', timeoutMs: 500 },
      },
    ])
    await waitFor(() => frames.some((f) => f.t === 'res'))
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true, 2000)
    afterThisTest(() => port2.close())
  })

  it('resumes a parked subscription whose endpoint came back as its grace ran out while the hub was away', async () => {
    // A grace long enough that a loaded machine still greets within it (1 s was missed once under
    // two test runs at once), and a stall past it.
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 2_000 })
    const mode = { kind: 'Reliable', timeoutMs: 1000 }
    const first = rawPeer(hub, ModuleId.Storage)
    const parkedId = await subscribeRawEvents(first, ModuleId.Storage, mode)
    first.port.close()
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true)
    for (let i = 0; i < 7; i++)
      await bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    // Back within the grace; its greeting waits in the port while the hub's thread is away past it.
    const second = rawPeer(hub, ModuleId.Storage)
    second.send([
      { t: 'hello', v: 1 },
      { t: 'sub', rid: 1, module: ModuleId.Storage, filter: { types: ['RawEvent'] }, mode },
    ])
    stallThisThread(2_500)
    await waitFor(() => second.frames.filter((frame) => frame.t === 'dlv').length === 7)
    expect(second.frames.find((frame) => frame.t === 'res')?.ok).toBe(parkedId)
    expect(bus.deadLetters.list()).toEqual([])
  })

  it('delivers again in publish order what a lost endpoint had in flight, ahead of what came meanwhile', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const mode = { kind: 'Reliable', timeoutMs: 10_000 }
    const eventTypes = (frames: RawFrame[]) =>
      frames
        .filter((frame) => frame.t === 'dlv')
        .map((frame) => ((frame.msg as Envelope).payload.data as { eventType: string }).eventType)
    const first = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(first, ModuleId.Storage, mode)
    for (const eventType of ['a', 'b', 'c', 'd']) await publishRaw(bus, eventType)
    // It takes all four and acknowledges none.
    await waitFor(() => eventTypes(first.frames).length === 4)
    first.port.close()
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true)
    for (const eventType of ['e', 'f']) await publishRaw(bus, eventType)
    const second = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(second, ModuleId.Storage, mode)
    await waitFor(() => eventTypes(second.frames).length === 6)
    expect(eventTypes(second.frames)).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
  })

  it('takes a welcome that came before its connect timeout while its thread was away', async () => {
    const { port1: hubSide, port2 } = new MessageChannel()
    afterThisTest(() => hubSide.close())
    // The hub (played here) welcomes it 0.9 s after it connects, as this thread goes away for
    // 0.5 s, past the 1 s timeout: a long task run from setImmediate, after which Node runs the
    // timers that fell due before it reads its ports.
    setTimeout(
      () =>
        setImmediate(() => {
          hubSide.postMessage([
            {
              t: 'welcome',
              v: 1,
              module: ModuleId.Storage,
              permissions: everything,
              workers: 4,
              heartbeatMs: 0,
            },
          ])
          stallThisThread(500)
        }),
      900,
    )
    const client = await connectBus(port2, { connectTimeoutMs: 1_000 })
    afterThisTest(() => client.close())
    expect(client.isOpen).toBe(true)
    expect(client.module).toBe(ModuleId.Storage)
  })

  it('counts as delivered a delivery acknowledged before the shutdown drain ran out while the main thread was away', async () => {
    const { bus, hub } = await startHub()
    const peer = rawPeer(hub, ModuleId.Storage)
    const reliable = { kind: 'Reliable', timeoutMs: 5_000 }
    await subscribeRawEvents(peer, ModuleId.Storage, reliable)
    await bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    await waitFor(() => peer.frames.some((frame) => frame.t === 'dlv'))
    const delivery = peer.frames.find((frame) => frame.t === 'dlv')?.id
    // The endpoint acknowledges it 150 ms into a 200 ms drain, as the main thread goes away for
    // 300 ms: a long task run from setImmediate.
    setTimeout(
      () =>
        setImmediate(() => {
          peer.send([{ t: 'ack', ids: [delivery] }])
          stallThisThread(300)
        }),
      150,
    )
    await bus.shutdown({ drainTimeoutMs: 200 })
    expect(bus.deadLetters.list()).toEqual([])
    const metrics = await bus.metrics()
    expect([metrics.messagesDelivered, metrics.messagesDeadLettered]).toEqual([1, 0])
  })

  it.each([
    { eventTypes: ['ran', 'waited', 'silent'], attempts: { ran: 1, waited: 0, silent: 1 } },
    // Every word in: the shutdown ends then, without waiting out its 2 s.
    { eventTypes: ['ran', 'waited'], attempts: { ran: 1, waited: 0 } },
  ])(
    'at shutdown, counts the attempt of a delivery only if its endpoint says it ran, or says nothing ($eventTypes)',
    async ({ eventTypes, attempts: expected }) => {
      const { bus, hub } = await startHub()
      const peer = rawPeer(hub, ModuleId.Storage)
      const reliable = { kind: 'Reliable', timeoutMs: 5_000 }
      await subscribeRawEvents(peer, ModuleId.Storage, reliable)
      for (const eventType of eventTypes) await publishRaw(bus, eventType)
      const deliveries = () =>
        peer.frames.flatMap((frame) =>
          frame.t === 'dlv'
            ? [{ id: frame.id as number, msg: frame.msg }]
            : frame.t === 'dlvs'
              ? (frame.msgs as unknown[]).map((msg, index) => ({ id: (frame.id as number) + index, msg }))
              : [],
        )
      await waitFor(() => deliveries().length === eventTypes.length)
      const idOf = (eventType: string) =>
        deliveries().find((d) => JSON.stringify(d.msg).includes(`"${eventType}"`))?.id
      const stopping = bus.shutdown({ drainTimeoutMs: 0 })
      // Told its subscription ended, the endpoint gives up one it had started and one that waited,
      // and says nothing of a third if there is one: the bus counts that one's attempt after its 2 s
      // wait.
      await waitFor(() => peer.frames.some((frame) => frame.t === 'ended'))
      const gone = {
        t: 'nack',
        error: 'Shutdown: the bus ended the subscription',
        timedOut: false,
        gone: true,
      }
      peer.send([
        { ...gone, id: idOf('ran'), ran: true },
        { ...gone, id: idOf('waited') },
      ])
      const answeredAt = performance.now()
      await stopping
      if (!eventTypes.includes('silent'))
        expect(performance.now() - answeredAt).toBeLessThan(OUTSIDE_SETTLE_MS / 2)
      const attempts = Object.fromEntries(
        bus.deadLetters
          .list()
          .map((entry) => [(entry.message.payload.data as { eventType: string }).eventType, entry.attempts]),
      )
      expect(attempts).toEqual(expected)
      await expectAccounted(bus)
      // A word that comes after the wait changes nothing: that delivery was counted already.
      if (eventTypes.includes('silent')) {
        peer.send([{ ...gone, id: idOf('silent'), ran: true }])
        await sleep(100)
        expect(bus.deadLetters.list()).toHaveLength(eventTypes.length)
        await expectAccounted(bus)
      }
    },
  )

  it('at shutdown, takes an ack or a nack sent as the subscription ended for word that the attempt ran, and waits no longer', async () => {
    const { bus, hub } = await startHub()
    const peer = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(peer, ModuleId.Storage, DeliveryMode.Reliable({ timeoutMs: 5_000 }))
    for (const eventType of ['handled', 'failed']) await publishRaw(bus, eventType)
    await waitFor(() => peer.frames.filter((frame) => frame.t === 'dlv' || frame.t === 'dlvs').length > 0)
    const [first] = peer.frames.filter((frame) => frame.t === 'dlv' || frame.t === 'dlvs')
    const firstId = first?.id as number
    const stopping = bus.shutdown({ drainTimeoutMs: 0 })
    // Both handlers ended as the bus shut down: their results cross the word that it did, and come
    // after the hub gave up waiting for results.
    await waitFor(() => peer.frames.some((frame) => frame.t === 'ended'))
    peer.send([
      { t: 'ack', ids: [firstId] },
      { t: 'nack', id: firstId + 1, error: 'Error: disk full', timedOut: false },
    ])
    const answeredAt = performance.now()
    await stopping
    // Not the 2 s the bus gives an endpoint that says nothing.
    expect(performance.now() - answeredAt).toBeLessThan(OUTSIDE_SETTLE_MS / 2)
    // Late results are not counted as outcomes; the attempts they ended count as run.
    expect(bus.deadLetters.list().map((entry) => [entry.reason, entry.attempts])).toEqual([
      ['Shutdown', 1],
      ['Shutdown', 1],
    ])
    expect((await bus.metrics()).messagesDelivered).toBe(0)
    await expectAccounted(bus)
  })

  it('lets a new attachment of the same identity replace the old one, or refuses it when asked; an unusable port or option replaces nothing', async () => {
    const { hub } = await setup()
    const first = hub.attach(new MessageChannel().port1, { module: 'renderer-main', permissions: everything })
    const second = hub.attach(new MessageChannel().port1, {
      module: 'renderer-main',
      permissions: everything,
    })
    expect(first.isOpen).toBe(false)
    expect(second.isOpen).toBe(true)
    // A port it cannot use replaces nothing.
    for (const unusable of [{}, null, 'port'])
      expect(() =>
        hub.attach(unusable as never, { module: 'renderer-main', permissions: everything }),
      ).toThrow(
        expect.objectContaining({
          kind: 'Configuration',
          reason: expect.stringContaining('expected a Port'),
        }),
      )
    expect(second.isOpen).toBe(true)
    // A misspelt choice, or a key attach does not take, is refused: not read as the default, 'replace'.
    for (const [extra, reason] of [
      [{ onDuplicate: 'refuses' }, 'attach: options.onDuplicate: Invalid option: expected one of'],
      [{ onDuplicte: 'allow' }, 'attach: options: Unrecognized key: "onDuplicte"'],
    ] as const)
      expect(() =>
        hub.attach(new MessageChannel().port1, {
          module: 'renderer-main',
          permissions: everything,
          ...extra,
        } as never),
      ).toThrow(expect.objectContaining({ kind: 'Configuration', reason: expect.stringContaining(reason) }))
    expect(() => hub.attach(new MessageChannel().port1, null as never)).toThrow(
      'attach: options: Invalid input: expected object, received null',
    )
    expect(second.isOpen).toBe(true)
    const third = hub.attach(new MessageChannel().port1, {
      module: 'renderer-main',
      permissions: everything,
      onDuplicate: 'allow',
    })
    expect([second.isOpen, third.isOpen]).toEqual([true, true])
    expect(hub.attachments()).toEqual([second, third])
    third.detach()
    expect(() =>
      hub.attach(new MessageChannel().port1, {
        module: 'renderer-main',
        permissions: everything,
        onDuplicate: 'refuse',
      }),
    ).toThrow(
      expect.objectContaining({
        kind: 'Unauthorized',
        action: 'attach',
        message: expect.stringContaining("'renderer-main' is attached already"),
      }),
    )
    expect(() =>
      hub.attach(new MessageChannel().port1, { module: 'Bad Id', permissions: everything }),
    ).toThrow("attach: 'Bad Id' is not a valid module id (kebab-case: /^[a-z][a-z0-9-]{0,63}$/)")
    expect(() =>
      hub.attach(new MessageChannel().port1, { module: 'x', permissions: { publish: 'all' } as never }),
    ).toThrow(
      expect.objectContaining({
        kind: 'Configuration',
        reason: expect.stringMatching(/^attach: permissions\.publish: /),
      }),
    )
    expect(() => hub.attach(new MessageChannel().port1, { module: 'x' } as never)).toThrow(
      "attach: permissions: Invalid input: expected object, received undefined (expected { publish: types | '*', subscribe: types | '*', inspect?: boolean })",
    )
  })

  it('refuses a port attached before, open or closed, whatever identity it is given, touching nothing attached', async () => {
    const { bus, hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    const first = hub.attach(port1, { module: ModuleId.DataCapture, permissions: everything })
    const client = await connectBus(port2)
    afterThisTest(() => client.close())
    const attachedBefore = expect.objectContaining({
      kind: 'Configuration',
      reason: expect.stringContaining('attach: this port was given before'),
    })
    for (const module of [ModuleId.DataCapture, ModuleId.Storage])
      expect(() => hub.attach(port1, { module, permissions: everything })).toThrow(attachedBefore)
    expect(hub.attachments()).toEqual([first])
    expect(first.isOpen).toBe(true)
    // Its endpoint got one welcome, and its publishes are taken once.
    await client.publish(rawMessage())
    expect((await bus.metrics()).messagesPublished).toBe(1)
    first.detach()
    expect(() => hub.attach(port1, { module: ModuleId.Storage, permissions: everything })).toThrow(
      attachedBefore,
    )
    // A port given in an adapter is known by the port under it: in that adapter, in another, or raw.
    const raw = new MessageChannel().port1
    const adapted = fromNodePort(raw)
    hub.attach(adapted, { module: ModuleId.Storage, permissions: everything })
    for (const again of [adapted, fromNodePort(raw), raw, fromDomPort(raw as never)]) {
      expect(() => hub.attach(again, { module: ModuleId.Gamification, permissions: everything })).toThrow(
        attachedBefore,
      )
    }
    expect(hub.attachments().map((a) => a.module)).toEqual([ModuleId.Storage])
  })

  it('refuses hub options it cannot use, a misspelt one or a wait no timer can count included', async () => {
    const { bus } = await setup()
    const refusals: [unknown, string][] = [
      [{ heartbeatMS: 1_000 }, 'createHub: options: Unrecognized key: "heartbeatMS"'],
      [
        { reconnectGraceMs: 2 ** 31 },
        'createHub: options.reconnectGraceMs: Too big: expected number to be <=86400000',
      ],
      [{ heartbeatMs: -1 }, 'createHub: options.heartbeatMs: Too small'],
      [{ reliableWindow: 0 }, 'createHub: options.reliableWindow: Too small'],
      [{ bestEffortWindow: 2.5 }, 'createHub: options.bestEffortWindow: Invalid input: expected int'],
      [{ createChannel: 'MessageChannel' }, 'createHub: options.createChannel: expected a function'],
      [{ routes: { producer: 'a' } }, 'createHub: options.routes: Invalid input: expected array'],
      [5, 'createHub: options: Invalid input: expected object, received number'],
    ]
    for (const [options, reason] of refusals) {
      expect(() => createHub(bus, options as never)).toThrow(
        expect.objectContaining({ kind: 'Configuration', reason: expect.stringContaining(reason) }),
      )
    }
    const longest = createHub(bus, { reconnectGraceMs: 86_400_000, heartbeatMs: 0 })
    longest.close()
    // A hub needs the bus's internals: anything else, a look-alike included, is no bus for it.
    const lookAlike = { publish: bus.publish, subscribe: bus.subscribe, metrics: bus.metrics }
    for (const notABus of [lookAlike, undefined, null, 'bus'])
      expect(() => createHub(notABus as never)).toThrow(
        expect.objectContaining({
          kind: 'Configuration',
          reason: 'createHub needs a bus made by createEventBus',
        }),
      )
  })

  it('lists the attachments attach returned, whose isOpen stays live', async () => {
    const { hub } = await setup()
    const first = hub.attach(new MessageChannel().port1, { module: 'renderer-main', permissions: everything })
    const second = hub.attach(new MessageChannel().port1, { module: 'inspector', permissions: everything })
    const listed = hub.attachments()
    expect(listed).toEqual([first, second])
    expect(listed[0]).toBe(first)
    first.detach()
    // Before, the list held copies of the moment: this one still said open.
    expect(listed[0]?.isOpen).toBe(false)
    expect(hub.attachments()).toEqual([second])
  })

  it('refuses permissions that name a type the bus does not know, and attaches nothing', async () => {
    const { hub } = await startHub({ catalog: { 'app.Ping': z.object({}) } })
    // Through a hub typed with no particular catalog: these would not compile against this one's.
    const untyped: Hub = hub
    const attach = (permissions: Permissions) =>
      untyped.attach(new MessageChannel().port1, { module: 'renderer-main', permissions })
    expect(() => attach({ publish: ['RawEvent'], subscribe: ['StateChange', 'Statechange'] })).toThrow(
      expect.objectContaining({
        kind: 'Configuration',
        reason: "attach: permissions.subscribe lists 'Statechange', which is not in the bus's catalog",
      }),
    )
    expect(() => attach({ publish: ['app.Pong'], subscribe: '*' })).toThrow(
      "permissions.publish lists 'app.Pong'",
    )
    // A name every object has (inherited from Object.prototype) is no type of the catalog either.
    expect(() => attach({ publish: [], subscribe: ['toString'] })).toThrow(
      "permissions.subscribe lists 'toString'",
    )
    expect(hub.attachments()).toEqual([])
    expect(attach({ publish: ['app.Ping', 'RawEvent'], subscribe: '*' }).isOpen).toBe(true)
  })

  it('hands out its own copy of the permissions, frozen: no holder can widen what frames are checked against', async () => {
    const { hub } = await startHub()
    const { port1, port2 } = new MessageChannel()
    const given: { publish: MessageType[]; subscribe: MessageType[] } = {
      publish: ['RawEvent'],
      subscribe: [],
    }
    const attachment = hub.attach(port1, { module: ModuleId.DataCapture, permissions: given })
    given.publish.push('StateChange')
    expect(attachment.permissions).toEqual({ publish: ['RawEvent'], subscribe: [] })
    expect(Object.isFrozen(attachment.permissions)).toBe(true)
    expect(() => (attachment.permissions.publish as string[]).push('StateChange')).toThrow(TypeError)
    expect(() => (attachment.permissions.subscribe as string[]).push('StateChange')).toThrow(TypeError)
    const client = await connectBus(port2, { module: ModuleId.DataCapture })
    afterThisTest(() => client.close())
    const stateChange = MessagePayload.StateChange({ state: 'focused', confidence: 1, timestamp: new Date() })
    await expect(client.publish(BusMessage.create(ModuleId.DataCapture, stateChange))).rejects.toMatchObject({
      kind: 'Unauthorized',
    })
  })

  it('says a closed hub is closed, not the bus, when asked to attach or route', async () => {
    const { bus, hub } = await setup()
    hub.close()
    const refusal = {
      kind: 'BusShuttingDown',
      message: expect.stringContaining('this hub is closed and attaches no endpoints'),
    }
    expect(() => hub.attach(new MessageChannel().port1, { module: 'x', permissions: everything })).toThrow(
      expect.objectContaining(refusal),
    )
    expect(() => hub.route({ producer: 'a', consumer: 'b', types: ['RawEvent'] })).toThrow(
      'this hub is closed and declares no routes',
    )
    await expect(bus.publish(BusMessage.create('x', MessagePayload.ModuleReady('x')))).resolves.toBeTypeOf(
      'string',
    )
  })

  it('refuses subscriptions past maxSubscriptionsPerAttachment with QueueFull, and takes one again after an unsubscribe', async () => {
    const { bus, hub } = await setup({ maxSubscriptionsPerAttachment: 2 })
    expect(() => createHub(bus, { maxSubscriptionsPerAttachment: 0 })).toThrow(
      'createHub: options.maxSubscriptionsPerAttachment: Too small: expected number to be >=1',
    )
    const connect = async (module: string) => {
      const { port1, port2 } = new MessageChannel()
      hub.attach(port1, { module, permissions: everything })
      const client = await connectBus(port2)
      afterThisTest(() => client.close())
      return client
    }
    const storage = await connect(ModuleId.Storage)
    const subscribe = (client: typeof storage, module: string) =>
      client.subscribe(module, { types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {})
    const first = await subscribe(storage, ModuleId.Storage)
    await subscribe(storage, ModuleId.Storage)
    const refused: unknown = await subscribe(storage, ModuleId.Storage).catch((error: unknown) => error)
    expect(refused).toMatchObject({ kind: 'QueueFull', currentSize: 2, maxSize: 2 })
    expect((refused as Error).message).toMatch(/maxSubscriptionsPerAttachment 2\); unsubscribe one first/)
    expect(isRecoverable(refused)).toBe(true)
    // Each attachment has its own allowance, and a refused subscribe left nothing behind.
    const analysis = await connect(ModuleId.AnalysisEngine)
    await subscribe(analysis, ModuleId.AnalysisEngine)
    expect((await bus.metrics()).subscriptions).toHaveLength(3)
    await storage.unsubscribe(first)
    await subscribe(storage, ModuleId.Storage)
    expect((await bus.metrics()).subscriptions).toHaveLength(3)
  })

  it('refuses a publish under another module’s name, saying the source must be its own', async () => {
    const { hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'storage', permissions: everything })
    const client = await connectBus(port2)
    afterThisTest(() => client.close())
    await expect(client.publish(rawMessage())).rejects.toMatchObject({
      kind: 'Unauthorized',
      action: 'source',
      module: 'storage',
      message:
        "Unauthorized: module 'storage' may publish only as itself: a message's source must be 'storage' (this 'RawEvent' named another module)",
    })
  })

  it('refuses a subscription under another module’s name, and subscribes nothing', async () => {
    const { bus, hub } = await setup()
    const peer = rawPeer(hub, ModuleId.Storage)
    peer.send([
      { t: 'hello', v: 1 },
      { t: 'sub', rid: 1, module: ModuleId.Gamification, filter: {}, mode: { kind: 'BestEffort' } },
    ])
    await waitFor(() => peer.frames.some((frame) => frame.t === 'rej'))
    expect(peer.frames.find((frame) => frame.t === 'rej')?.error).toEqual({
      data: { kind: 'Unauthorized', module: ModuleId.Storage, action: 'subscribe' },
      message:
        "Unauthorized: module 'storage' may subscribe only as itself, not as another module nor on a channel it is not that end of",
    })
    expect((await bus.metrics()).subscriptions).toEqual([])
  })

  it('rejects a client whose expected identity differs from the bound one', async () => {
    const { hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'renderer-main', permissions: everything })
    await expect(connectBus(port2, { module: 'storage' })).rejects.toMatchObject({
      kind: 'Unauthorized',
      action: 'attach',
      module: 'storage',
      message: expect.stringContaining("the hub attached this port as 'renderer-main', not as 'storage'"),
    })
  })

  it('refuses options it cannot use at once, and connects with the same port after', async () => {
    const { hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'renderer-main', permissions: everything })
    const refusals: [unknown, string][] = [
      [{ module: 'Renderer' }, 'connectBus: options.module: a module id is kebab-case'],
      [{ modul: 'renderer-main' }, 'connectBus: options: Unrecognized key: "modul"'],
      [{ connectTimeoutMs: 0 }, 'connectBus: options.connectTimeoutMs: Too small'],
      [{ connectTimeoutMs: 2 ** 31 }, 'connectBus: options.connectTimeoutMs: Too big'],
      [
        { catalog: { RawEvent: z.object({}) } },
        "catalog: 'RawEvent' is a built-in type and cannot be redefined",
      ],
      [{ catalog: { 'app.Ping': 'schema' } }, "catalog: 'app.Ping' must map to a zod schema"],
      [7, 'connectBus: options: Invalid input: expected object, received number'],
    ]
    for (const [options, reason] of refusals) {
      // Configuration, before any hello went out: not Unauthorized once a welcome failed to match,
      // nor Disconnected when none came, nor a connection that ignored the option.
      const refused: unknown = await connectBus(port2, options as never).catch((error: unknown) => error)
      expect(refused).toMatchObject({ kind: 'Configuration', reason: expect.stringContaining(reason) })
    }
    const client = await connectBus(port2, { module: 'renderer-main', connectTimeoutMs: 5_000 })
    afterThisTest(() => client.close())
    expect(client.module).toBe('renderer-main')
  })

  it('refuses a port a connection was made on before, leaving that connection as it was', async () => {
    const { bus, hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: ModuleId.DataCapture, permissions: everything })
    const client = await connectBus(port2)
    afterThisTest(() => client.close())
    const again = connectBus(port2)
    await expect(again).rejects.toMatchObject({
      kind: 'Configuration',
      reason: expect.stringContaining('connectBus: this port was given before'),
    })
    // The first connection's answers are still its own alone.
    const messages = [rawMessage(), rawMessage()]
    expect(await Promise.all(messages.map((message) => client.publish(message)))).toEqual(
      messages.map((message) => message.id),
    )
    client.close()
    await expect(connectBus(port2)).rejects.toMatchObject({ kind: 'Configuration' })
    // Nor in an adapter: it is the same port under it.
    await expect(connectBus(fromNodePort(port2))).rejects.toMatchObject({ kind: 'Configuration' })
    expect((await bus.metrics()).messagesPublished).toBe(2)
  })

  it('rejects calls on a closed connection with Disconnected', async () => {
    const { hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    const attachment = hub.attach(port1, { module: 'renderer-main', permissions: everything })
    const client = await connectBus(port2)
    const closed = new Promise<string>((resolve) => client.onClose(resolve))
    attachment.detach()
    expect(await closed).toBeTruthy()
    await expect(
      client.publish(BusMessage.create('renderer-main', MessagePayload.RawEvent(rawEvent()))),
    ).rejects.toMatchObject({ kind: 'Disconnected' })
  })

  it('keeps calling the other listeners when one throws, says so, and keeps delivering', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 }, { heartbeatMs: 0 })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: '*', inspect: true } })
    const inspector = await connectBus(port2)
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    afterThisTest(() => reported.mockRestore())
    const seen = { metrics: 0, tail: 0, close: 0, delivered: 0 }
    const fail = () => {
      throw new Error('a bug in the page')
    }
    await inspector.onMetrics(fail)
    await inspector.onMetrics(() => seen.metrics++)
    await inspector.onTail(fail)
    await inspector.onTail(() => seen.tail++)
    inspector.onClose(fail)
    inspector.onClose(() => seen.close++)
    await inspector.subscribe('inspector', { types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {
      seen.delivered++
    })
    // Before, the first throw escaped into the frame handling: an uncaught exception (a worker would
    // end), the other listeners never called, and the frames after it in the unit never read.
    for (const name of ['one', 'two', 'three']) await publishRaw(bus, name)
    await waitFor(() => seen.metrics >= 2 && seen.tail >= 1 && seen.delivered === 3)
    await inspector.close()
    expect(seen.close).toBe(1)
    const reasons = new Set(reported.mock.calls.map(([text]) => String(text).split(' listener')[0]))
    expect(reasons).toEqual(new Set(['skelly-bus: a metrics', 'skelly-bus: a tail', 'skelly-bus: a close']))
    expect(String(reported.mock.calls[0]?.[0])).toContain('threw: Error: a bug in the page')
  })

  it('gives inspecting endpoints metrics, streams and dead-letter commands', async () => {
    const { bus, hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
    const inspector = await connectBus(port2)
    afterThisTest(() => inspector.close())
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 100 }),
      async () => {
        throw new Error('storage offline')
      },
    )
    const tails: string[] = []
    const stopTail = await inspector.onTail((entries) => {
      for (const entry of entries) tails.push((entry.message.payload.data as { eventType: string }).eventType)
    })
    const snapshots: number[] = []
    const stopMetrics = await inspector.onMetrics((snapshot) => snapshots.push(snapshot.messagesPublished))
    await publishRaw(bus, 'one')
    await publishRaw(bus, 'two')
    await waitFor(() => bus.deadLetters.list().length === 2)
    await waitFor(() => tails.length === 2)
    expect(tails).toEqual(['one', 'two'])
    await waitFor(() => snapshots.length > 0, 3000)

    const metrics = await inspector.metrics()
    expect(metrics.messagesPublished).toBe(2)
    expect(metrics.collectedAt).toBeInstanceOf(Date)
    const entries = await inspector.deadLetters.list({ reason: 'MaxRetriesExceeded' })
    expect(entries.map((e) => e.lastError)).toEqual(['Error: storage offline', 'Error: storage offline'])
    expect(await inspector.deadLetters.replay([entries[0]!.id])).toEqual({
      replayed: [entries[0]!.id],
      failed: [],
    })
    expect(await inspector.deadLetters.purge()).toBeGreaterThanOrEqual(1)
    stopTail()
    stopMetrics()
  })

  it('keeps past snapshots’ charted fields for an inspector opened later, and takes one snapshot a tick for all', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 }, { heartbeatMs: 0 })
    const inspectorAs = async (module: string, permissions: PermissionsOf<MessageType>) => {
      const { port1, port2 } = new MessageChannel()
      hub.attach(port1, { module, permissions })
      const client = await connectBus(port2)
      afterThisTest(() => client.close())
      return client
    }
    const inspect: PermissionsOf<MessageType> = { publish: [], subscribe: [], inspect: true }
    await publishRaw(bus, 'before anyone watched')
    await new Promise((resolve) => setTimeout(resolve, 120)) // several snapshots, nobody watching
    const first = await inspectorAs('inspector', inspect)
    const points = await first.metricsHistory()
    expect(points.length).toBeGreaterThanOrEqual(3)
    expect(Object.keys(points[0] ?? {}).sort()).toEqual(Object.keys(metricsPointSchema.shape).sort())
    expect(points.at(-1)).toMatchObject({ messagesPublished: 1, collectedAt: expect.any(Date) })
    const times = points.map((point) => point.collectedAt.getTime())
    expect(times).toEqual([...times].sort((a, b) => a - b))

    // Two inspectors watching: each tick's one snapshot goes to both (each took its own before).
    const second = await inspectorAs('inspector-2', inspect)
    const taken = vi.spyOn(bus, 'metrics')
    const seenBy = { first: [] as number[], second: [] as number[] }
    await first.onMetrics((snapshot) => seenBy.first.push(snapshot.collectedAt.getTime()))
    await second.onMetrics((snapshot) => seenBy.second.push(snapshot.collectedAt.getTime()))
    await waitFor(() => seenBy.second.length >= 4)
    expect(seenBy.second.every((time) => seenBy.first.includes(time))).toBe(true)
    expect(taken.mock.calls.length).toBeLessThanOrEqual(seenBy.first.length + 1)

    const uninspecting = await inspectorAs('renderer-main', everything)
    for (const asked of [uninspecting.metricsHistory(), uninspecting.metrics()])
      await expect(asked).rejects.toMatchObject({ kind: 'Unauthorized', action: 'inspect' })
  })

  it('lists the endpoints attached to it, how each fares, and forgets one that left', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 }, { heartbeatMs: 0 })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
    const inspector = await connectBus(port2)
    afterThisTest(() => inspector.close())
    const storage = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(storage, ModuleId.Storage, DeliveryMode.Reliable({ timeoutMs: 5_000 }))
    // Three frames it should not send: unreadable, a second hello, a channel's frame not its own.
    storage.send([{ t: 'nonsense' }, { t: 'hello', v: 1 }, { t: 'rsync', id: 'nope.1', seq: 0 }])
    const silent = rawPeer(hub, 'silent-window') // attached, never says hello
    await waitFor(() => storage.frames.filter((frame) => frame.t === 'err').length === 3)

    const asked = await inspector.metrics()
    const streamed: BusMetrics[] = []
    await inspector.onMetrics((snapshot) => streamed.push(snapshot))
    await waitFor(() => streamed.length > 0)
    for (const snapshot of [asked, streamed[0]]) {
      expect(snapshot?.connections).toEqual([
        {
          module: 'inspector',
          transport: 'port',
          attachedAt: expect.any(Date),
          greeted: true,
          subscriptions: 0,
          awaitingAck: 0,
          badFrames: 0,
          watching: snapshot === asked ? [] : ['metrics'],
        },
        expect.objectContaining({ module: 'storage', greeted: true, subscriptions: 1, badFrames: 3 }),
        expect.objectContaining({ module: 'silent-window', greeted: false, subscriptions: 0, badFrames: 0 }),
      ])
    }
    silent.port.close()
    await waitFor(async () =>
      (await inspector.metrics()).connections!.every((connection) => connection.module !== 'silent-window'),
    )
    // What only the hub knows is the hub's: the bus's own snapshot has no connections.
    expect((await bus.metrics()).connections).toBeUndefined()
  })

  it('tails to each inspector while it watches, and to no other', async () => {
    const { bus, hub } = await setup()
    const watch = async (module: string) => {
      const { port1, port2 } = new MessageChannel()
      hub.attach(port1, { module, permissions: { publish: [], subscribe: [], inspect: true } })
      const inspector = await connectBus(port2)
      afterThisTest(() => inspector.close())
      const seen: string[] = []
      const stop = await inspector.onTail((entries) => {
        for (const entry of entries)
          seen.push((entry.message.payload.data as { eventType: string }).eventType)
      })
      return { seen, stop }
    }
    const first = await watch('inspector-a')
    const second = await watch('inspector-b')
    await publishRaw(bus, 'both')
    await waitFor(() => first.seen.length === 1 && second.seen.length === 1)
    first.stop()
    await publishRaw(bus, 'second only')
    await waitFor(() => second.seen.length === 2)
    second.stop()
    await publishRaw(bus, 'nobody')
    const third = await watch('inspector-c')
    await publishRaw(bus, 'third')
    await waitFor(() => third.seen.length === 1)
    expect(first.seen).toEqual(['both'])
    expect(second.seen).toEqual(['both', 'second only'])
    expect(third.seen).toEqual(['third'])
  })

  it('stops an inspector’s streams when its connection is lost', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 50 })
    // The hub's own side: what it holds for each watcher is otherwise invisible to an endpoint.
    const core = hub as unknown as HubCore
    const watch = core.metricsFeed.watch.bind(core.metricsFeed)
    let metricsWatchers = 0
    vi.spyOn(core.metricsFeed, 'watch').mockImplementation((listener) => {
      metricsWatchers++
      const stop = watch(listener)
      return () => {
        metricsWatchers--
        stop()
      }
    })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
    const inspector = await connectBus(port2)
    afterThisTest(() => inspector.close())
    const tails: unknown[] = []
    await inspector.onMetrics(() => {})
    await inspector.onTail((entries) => tails.push(...entries))
    await publishRaw(bus, 'watched')
    await waitFor(() => tails.length === 1)
    expect(metricsWatchers).toBe(1)
    expect(core.tails.size).toBe(1)

    port2.close() // lost, not closed by the client: no word first
    await waitFor(() => hub.attachments().length === 0)
    expect(metricsWatchers).toBe(0)
    expect(core.tails.size).toBe(0)
    await publishRaw(bus, 'after')
    expect((await core.metrics()).connections).toEqual([])
  })

  it('skips its streams to an inspector that leaves over a megabyte unread, and says the tail sampled', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 0, metricsIntervalMs: 50 })
    let unread = 0
    const { port1, port2 } = new MessageChannel()
    hub.attach(
      { ...fromNodePort(port1), bufferedBytes: () => unread },
      { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } },
    )
    const inspector = await connectBus(port2)
    afterThisTest(() => inspector.close())
    /** When each snapshot received was taken. */
    const snapshots: number[] = []
    const tails: { sampled: boolean; types: unknown[] }[] = []
    await inspector.onMetrics((snapshot) => snapshots.push(snapshot.collectedAt.getTime()))
    await inspector.onTail((entries, sampled) =>
      tails.push({ sampled, types: entries.map((entry) => entry.message.payload.data) }),
    )
    await publishRaw(bus, 'read')
    await waitFor(() => tails.length === 1 && snapshots.length > 0)

    const stalledAt = Date.now()
    unread = STREAM_BUFFER_LIMIT_BYTES + 1 // as a WebSocket whose reader stopped would say
    await publishRaw(bus, 'left out')
    await sleep(600) // two flushes of the tail and twelve metrics intervals
    expect(snapshots.filter((takenAt) => takenAt > stalledAt)).toEqual([])
    expect(tails).toHaveLength(1)

    unread = 0
    await publishRaw(bus, 'read again')
    await waitFor(() => tails.length === 2 && snapshots.some((takenAt) => takenAt > stalledAt))
    expect(tails[1]).toMatchObject({
      sampled: true,
      types: [expect.objectContaining({ eventType: 'read again' })],
    })
  })
})

describe('batches as rows beside templates of their shapes', () => {
  /** A frame of `count` RawEvents from DataCapture, published by the bus in one tick. */
  const burst = (bus: ReturnType<typeof createEventBus>, count: number) =>
    Promise.all(Array.from({ length: count }, (_, i) => publishRaw(bus, `e${i}`)))
  const dlvsOf = (peer: ReturnType<typeof rawPeer>) =>
    peer.frames.filter((f): f is RawFrame & { msgs: unknown[] } => f.t === 'dlvs')

  it('go only to endpoints that said they read them', async () => {
    const { bus, hub } = await setup()
    const shaped = rawPeer(hub, ModuleId.Storage)
    const plain = rawPeer(hub, ModuleId.Gamification)
    await subscribeRawEvents(shaped, ModuleId.Storage, { kind: 'BestEffort' }, { batch: true, shapes: true })
    await subscribeRawEvents(plain, ModuleId.Gamification, { kind: 'BestEffort' }, { batch: true })
    await burst(bus, 3)
    await waitFor(() => dlvsOf(shaped).length > 0 && dlvsOf(plain).length > 0)
    const [rows] = dlvsOf(shaped)
    const [tuples] = dlvsOf(plain)
    expect(rows?.shapes).toHaveLength(1)
    expect(rows?.msgs.map((row) => (row as unknown[])[0])).toEqual([0, 0, 0])
    expect(tuples).not.toHaveProperty('shapes')
    expect(tuples?.msgs.map((tuple) => (tuple as unknown[]).length)).toEqual([6, 6, 6])
    // Both read back as the same messages.
    const [decoded] = shapedCloneCodec.decode([rows]) as { msgs: unknown[] }[]
    const [unpacked] = shapedCloneCodec.decode([tuples]) as { msgs: unknown[] }[]
    expect(decoded?.msgs).toEqual(unpacked?.msgs)
    expect(decoded?.msgs.map((m) => (m as Envelope).payload.data)).toMatchObject([
      { eventType: 'e0' },
      { eventType: 'e1' },
      { eventType: 'e2' },
    ])
  })

  it('are read from any endpoint; a malformed one is refused with the reason, and the hub serves on', async () => {
    const { bus, hub } = await setup()
    const peer = rawPeer(hub, ModuleId.DataCapture)
    peer.send([{ t: 'hello', v: 1 }])
    const received: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      received.push(m.payload.data.eventType)
    })
    const msgs = ['a', 'b'].map((eventType) =>
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType }))),
    )
    const rows = packBatch(msgs)
    expect(rows.shapes).toHaveLength(1)
    peer.send([{ t: 'pubs', rid: 1, ...rows }])
    await waitFor(() => received.length === 2)
    expect(received).toEqual(['a', 'b'])
    peer.send([{ t: 'pubs', rid: 3, msgs: rows.msgs, shapes: [['__proto__', 0]] }])
    await waitFor(() => peer.frames.some((f) => f.t === 'err'))
    expect(JSON.stringify(peer.frames.find((f) => f.t === 'err'))).toContain(
      "invalid frame 'pubs': shapes: a template key cannot be '__proto__'",
    )
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    peer.send([{ t: 'pubs', rid: 5, ...packBatch(msgs) }])
    await waitFor(() => received.length === 4)
    expect(peer.frames.filter((f) => f.t === 'okr')).toMatchObject([
      { from: 1, to: 2 },
      { from: 5, to: 6 },
    ])
  })
})

describe('large bursts', () => {
  it('answers a large unit of publishes before it delivers them, a small one after', async () => {
    const { hub } = await setup()
    const peer = rawPeer(hub, ModuleId.DataCapture)
    await subscribeRawEvents(peer, ModuleId.DataCapture, { kind: 'BestEffort' }, { batch: true })
    /** The kinds of answer and delivery frames that a `pubs` frame of `count` messages brings, in order. */
    const answersOf = async (rid: number, count: number) => {
      peer.frames.length = 0
      const msgs = Array.from({ length: count }, (_, i) =>
        BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType: `e${i}` }))),
      )
      peer.send([{ t: 'pubs', rid, msgs }])
      await waitFor(() => peer.frames.some((f) => f.t === 'okr') && peer.frames.some((f) => f.t === 'dlvs'))
      expect(peer.frames.find((f) => f.t === 'okr')).toMatchObject({ from: rid, to: rid + count - 1 })
      return peer.frames.map((f) => f.t).filter((t) => t === 'okr' || t === 'dlvs')
    }
    // A producer sending that many at once waits for its answers to send more.
    expect((await answersOf(2, EARLY_ANSWER_BATCH))[0]).toBe('okr')
    // A paced producer's few messages reach their subscribers first.
    expect((await answersOf(100, 3))[0]).toBe('dlvs')
  })

  it('answers the large units of publishes one socket read brought with one answer', async () => {
    const { hub } = await setup()
    // A text port the test reads into: several units at once, as one read of a socket hands them.
    let read: (unit: string, ports: readonly unknown[]) => void = () => {}
    const written: RawFrame[][] = []
    const socket: Port = {
      carrier: 'text',
      send: (unit) => written.push(JSON.parse(unit as string)),
      onMessage: (listener) => {
        read = listener
      },
      onClose: () => {},
      start: () => {},
      close: () => {},
    }
    hub.attach(socket, { module: ModuleId.DataCapture, permissions: everything })
    const readUnits = (...units: RawFrame[][]) => {
      for (const unit of units) read(textCodec.encode(unit as never) as string, [])
    }
    const pubs = (rid: number): RawFrame[] => [
      {
        t: 'pubs',
        rid,
        msgs: Array.from({ length: EARLY_ANSWER_BATCH }, (_, i) =>
          BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType: `e${i}` }))),
        ),
      },
    ]
    const answers = () => written.flat().filter((frame) => frame.t === 'okr' || frame.t === 'rej')
    readUnits([{ t: 'hello', v: 1 }])
    await waitFor(() => written.length > 0)
    written.length = 0

    readUnits(pubs(1), pubs(1 + EARLY_ANSWER_BATCH))
    await waitFor(() => answers().length > 0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(answers()).toEqual([{ t: 'okr', from: 1, to: 2 * EARLY_ANSWER_BATCH }])
    expect(written).toHaveLength(1)

    // Units read one at a time are answered one at a time.
    written.length = 0
    const next = 1 + 2 * EARLY_ANSWER_BATCH
    readUnits(pubs(next))
    await waitFor(() => answers().length === 1)
    readUnits(pubs(next + EARLY_ANSWER_BATCH))
    await waitFor(() => answers().length === 2)
    expect(answers()).toMatchObject([
      { from: next, to: next + EARLY_ANSWER_BATCH - 1 },
      { from: next + EARLY_ANSWER_BATCH, to: next + 2 * EARLY_ANSWER_BATCH - 1 },
    ])
  })

  it('splits a burst queued in one tick into units the other side accepts', async () => {
    const { bus, hub } = await setup()
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: ModuleId.DataCapture, permissions: everything })
    const client = await connectBus(port2)
    afterThisTest(() => client.close())
    const burst = Array.from({ length: 70_000 }, (_, i) =>
      client.publish(
        BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType: `b${i}` }))),
      ),
    )
    await Promise.all(burst)
    expect((await bus.metrics()).messagesPublished).toBe(70_000)
  })
})
