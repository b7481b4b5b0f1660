/**
 * How the hub's side of an endpoint serves it: how many deliveries of each mode it may have
 * unacknowledged, the handler timeout each carries, the types a publish may have, the requests
 * refused to it, how an error is carried, and a subscribe answered while a direct route's producer
 * learns of it. Raw endpoints over real ports in this thread.
 */
import { describe, expect, it } from 'vitest'
import { BusMessage, DeliveryMode, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { wireError } from '../../src/main/hub/session.js'
import type { HubCore } from '../../src/main/hub/types.js'
import { EventBusError } from '../../src/shared/errors.js'
import { rawEvent, sleep, validData, waitFor } from '../helpers.js'
import { publishRawEvents, rawPeer, startHub, subscribeRawEvents } from './fixture.js'

describe('deliveries to an endpoint', () => {
  it.each([
    ['BestEffort', { kind: 'BestEffort' }, 2],
    ['Reliable', { kind: 'Reliable' }, 3],
    ['LatestOnly', { kind: 'LatestOnly' }, 1],
  ])(
    'a %s subscription has at most its window unacknowledged, and gets more as it acknowledges',
    async (_, mode, window) => {
      const { bus, hub } = await startHub({}, { bestEffortWindow: 2, reliableWindow: 3 })
      const peer = rawPeer(hub, ModuleId.Storage)
      await subscribeRawEvents(peer, ModuleId.Storage, mode)
      await publishRawEvents(bus, 6)
      const sent = () => peer.frames.filter((frame) => frame.t === 'dlv')
      await waitFor(() => sent().length === window)
      await sleep(30)
      expect(sent()).toHaveLength(window)
      peer.send([{ t: 'ack', ids: [sent()[0]?.id] }])
      await waitFor(() => sent().length === window + 1)
    },
  )

  it('gives each delivery the shorter of the bus’s delivery timeout and the subscription’s own', async () => {
    const { bus, hub } = await startHub({ deliveryTimeoutMs: 1_500 })
    const timeoutsOf = async (mode: DeliveryMode) => {
      const peer = rawPeer(hub, ModuleId.Storage)
      const sid = await subscribeRawEvents(peer, ModuleId.Storage, mode)
      await publishRawEvents(bus, 1)
      await waitFor(() => peer.frames.some((frame) => frame.t === 'dlv' && frame.sid === sid))
      const timeout = peer.frames.find((frame) => frame.t === 'dlv')?.timeoutMs
      peer.send([{ t: 'bye' }])
      await waitFor(() => hub.attachments().length === 0)
      return timeout
    }
    expect(await timeoutsOf(DeliveryMode.Reliable({ timeoutMs: 60_000 }))).toBe(1_500)
    expect(await timeoutsOf(DeliveryMode.Reliable({ timeoutMs: 400 }))).toBe(400)
    expect(await timeoutsOf(DeliveryMode.BestEffort)).toBe(1_500)
  })
})

describe('publishes from an endpoint', () => {
  it('refuses a type its permissions do not grant, naming it, and routes nothing', async () => {
    const { bus, hub } = await startHub()
    const peer = rawPeer(hub, ModuleId.DataCapture, { publish: ['StateChange'], subscribe: [] })
    const refused = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const granted = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.StateChange(validData.StateChange()),
    )
    peer.send([
      { t: 'hello', v: 1 },
      { t: 'pub', rid: 1, msg: refused },
      { t: 'pub', rid: 2, msg: granted },
    ])
    await waitFor(() => peer.frames.some((frame) => frame.t === 'okr'))
    expect(peer.frames.find((frame) => frame.t === 'rej')).toMatchObject({
      rid: 1,
      error: {
        data: { kind: 'Unauthorized', module: ModuleId.DataCapture, action: 'publish', type: 'RawEvent' },
      },
    })
    expect(peer.frames.find((frame) => frame.t === 'okr')).toMatchObject({ from: 2, to: 2 })
    const { types } = await bus.metrics()
    expect(types.RawEvent?.published ?? 0).toBe(0)
    expect(types.StateChange?.published).toBe(1)
  })
})

describe('requests from an endpoint', () => {
  it('refuses to end a subscription it does not hold, and dead-letter commands and streams to one that may not inspect', async () => {
    const { hub } = await startHub()
    const peer = rawPeer(hub, ModuleId.Storage)
    peer.send([
      { t: 'hello', v: 1 },
      { t: 'unsub', rid: 1, sid: 'sub-never' },
      { t: 'dlq', rid: 2, op: 'list' },
      { t: 'dlq', rid: 3, op: 'purge' },
      { t: 'stream', rid: 4, name: 'tail', on: true },
    ])
    await waitFor(() => peer.frames.filter((frame) => frame.t === 'rej').length === 4)
    const refusal = (rid: number) =>
      peer.frames.find((frame) => frame.t === 'rej' && frame.rid === rid)?.error
    expect(refusal(1)).toMatchObject({ data: { kind: 'SubscriptionNotFound', subscriptionId: 'sub-never' } })
    for (const rid of [2, 3, 4])
      expect(refusal(rid)).toMatchObject({
        data: { kind: 'Unauthorized', module: ModuleId.Storage, action: 'inspect' },
      })
  })
})

describe('an error as an answer carries it', () => {
  it('is a bus error’s data and message, or MessageRejected with the message of anything else thrown', () => {
    const busError = EventBusError.of('SubscriptionNotFound', { subscriptionId: 'sub-1' })
    expect(wireError(busError)).toEqual({ data: busError.toData(), message: busError.message })
    expect(wireError(new TypeError('not a function'))).toEqual({
      data: { kind: 'MessageRejected', reason: 'not a function', issues: [] },
      message: 'MessageRejected: not a function',
    })
    expect(wireError('thrown text')).toEqual({
      data: { kind: 'MessageRejected', reason: 'thrown text', issues: [] },
      message: 'MessageRejected: thrown text',
    })
  })
})

/**
 * A route DataCapture → Storage, active, between two raw endpoints; `subscribe()` has the consumer
 * subscribe to RawEvent (Reliable) and resolves once the producer has been sent terms serving it,
 * which it has not confirmed.
 */
async function activeRouteOfRawPeers() {
  const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
  const route = hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] })
  const producer = rawPeer(hub, ModuleId.DataCapture)
  const consumer = rawPeer(hub, ModuleId.Storage)
  producer.send([{ t: 'hello', v: 1 }])
  consumer.send([{ t: 'hello', v: 1 }])
  await waitFor(() => producer.frames.some((frame) => frame.t === 'route'))
  const channel = producer.frames.find((frame) => frame.t === 'route')?.id
  producer.send([{ t: 'rsync', id: channel, seq: 0 }])
  await waitFor(() => route.state === 'active')
  const subscribe = async (peer: typeof consumer) => {
    peer.send([
      {
        t: 'sub',
        rid: 1,
        module: ModuleId.Storage,
        filter: { types: ['RawEvent'] },
        mode: { kind: 'Reliable' },
      },
    ])
    await waitFor(() => producer.frames.some((frame) => frame.t === 'rterms'))
  }
  const publishElsewhere = () =>
    bus.publish(BusMessage.create(ModuleId.AnalysisEngine, MessagePayload.RawEvent(rawEvent())))
  return { bus, hub, producer, consumer, channel, subscribe, publishElsewhere }
}

describe('frames on a direct channel that its other end could not read', () => {
  it('count among their sender’s bad frames and the route’s, and the sender is told why', async () => {
    const { hub, producer, consumer, channel } = await activeRouteOfRawPeers()
    consumer.send([{ t: 'rbad', id: channel, count: 2, reason: "invalid frame 'dlvs': frame.rows" }])
    await waitFor(() => producer.frames.some((frame) => frame.t === 'err'))
    expect(producer.frames.find((frame) => frame.t === 'err')?.error).toMatchObject({
      data: { kind: 'MessageRejected' },
      message: expect.stringContaining(
        `2 frames you sent on direct channel ${channel} could not be read by ${ModuleId.Storage}, dropped: invalid frame 'dlvs': frame.rows`,
      ),
    })
    const { connections, routes } = await (hub as unknown as HubCore).metrics()
    expect(connections?.map(({ module, badFrames }) => ({ module, badFrames }))).toEqual([
      { module: ModuleId.DataCapture, badFrames: 2 },
      { module: ModuleId.Storage, badFrames: 0 },
    ])
    expect(routes?.[0]).toMatchObject({ state: 'active', refused: 2 })
  })
})

/** The answers and deliveries `peer` was sent, by kind, in order. */
const answersAndDeliveries = (peer: ReturnType<typeof rawPeer>) =>
  peer.frames.filter((frame) => frame.t === 'res' || frame.t === 'dlv').map((frame) => frame.t)

describe('a subscribe while a direct route is active', () => {
  it('is answered once the channel’s producer confirms terms that serve it, and nothing reaches it before its answer', async () => {
    const { producer, consumer, channel, subscribe, publishElsewhere } = await activeRouteOfRawPeers()
    await subscribe(consumer)
    // Published through the hub by another while the producer has not confirmed: it waits.
    await publishElsewhere()
    await sleep(30)
    expect(answersAndDeliveries(consumer)).toEqual([])
    producer.send([{ t: 'rsync', id: channel, seq: 1 }])
    await waitFor(() => consumer.frames.some((frame) => frame.t === 'dlv'))
    expect(answersAndDeliveries(consumer)).toEqual(['res', 'dlv'])
  })

  it('whose endpoint is lost before its answer keeps what came for it, for the endpoint attached again', async () => {
    const { bus, hub, consumer, subscribe, publishElsewhere } = await activeRouteOfRawPeers()
    await subscribe(consumer)
    consumer.port.close()
    await waitFor(() => hub.attachments().length === 1)
    await publishElsewhere()
    const again = rawPeer(hub, ModuleId.Storage)
    again.send([{ t: 'hello', v: 1 }])
    await subscribe(again)
    await waitFor(() => again.frames.some((frame) => frame.t === 'dlv'))
    expect(answersAndDeliveries(again)).toEqual(['res', 'dlv'])
    expect(bus.deadLetters.list()).toEqual([])
  })
})
