/**
 * `slowHandlers` counts handlers that ran past `slowHandlerThresholdMs`, wherever they run. At an
 * endpoint the handler is timed where it runs, as the bus times it in process: time a delivery
 * spends waiting there behind other handlers is not the handler's, and a direct channel's handlers
 * count as much as the hub path's.
 */
import { describe, expect, it } from 'vitest'
import {
  DeliveryMode,
  type Envelope,
  type EventBus,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { expectAccounted, rawMessage, sleep, waitFor } from '../helpers.js'
import {
  captureToStorage,
  connectClient,
  rawPeer,
  startHub,
  subscribeRawEvents,
  untilActive,
} from './fixture.js'

const THRESHOLD_MS = 50
const config = { slowHandlerThresholdMs: THRESHOLD_MS, workers: 1, maxRetryAttempts: 0 }

/** Two handlers run past the threshold (one succeeds, one fails); three quick ones wait behind them. */
const WORKLOAD = ['slow-ok', 'slow-fail', 'quick', 'quick', 'quick']

async function handle(message: Envelope): Promise<void> {
  const name = (message.payload.data as { eventType: string }).eventType
  if (name === 'quick') return
  await sleep(THRESHOLD_MS * 2)
  if (name === 'slow-fail') throw new Error('failed slowly')
}

/** The subscription's counts once every message of the workload settled. */
async function settledCounts(bus: EventBus) {
  await waitFor(async () => {
    const [subscription] = (await bus.metrics()).subscriptions
    return subscription !== undefined && subscription.delivered + subscription.failed === WORKLOAD.length
  }, 5_000)
  await expectAccounted(bus)
  const { delivered, failed, slowHandlers } = (await bus.metrics()).subscriptions[0] ?? {}
  return { delivered, failed, slowHandlers }
}

const expected = { delivered: 4, failed: 1, slowHandlers: 2 }

describe('slow handlers at an endpoint', () => {
  it('are counted as in process', async () => {
    const { bus } = await startHub(config)
    await bus.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.BestEffort, handle)
    for (const name of WORKLOAD) await bus.publish(rawMessage(MessagePriority.Normal, { eventType: name }))
    expect(await settledCounts(bus)).toEqual(expected)
  })

  it.each(['hub path', 'direct route'])('are counted where the handler runs, over the %s', async (path) => {
    const { bus, hub } = await startHub(config)
    const route = path === 'direct route' ? captureToStorage(hub) : undefined
    const storage = await connectClient(hub, ModuleId.Storage)
    await storage.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.BestEffort, handle)
    const capture = await connectClient(hub, ModuleId.DataCapture)
    if (route !== undefined) await untilActive(route)
    // All published at once: the quick ones wait ~200 ms at the endpoint, which is not their handlers'.
    await Promise.all(
      WORKLOAD.map((name) => capture.publish(rawMessage(MessagePriority.Normal, { eventType: name }))),
    )
    expect(await settledCounts(bus)).toEqual(expected)
    if (route !== undefined) expect((await bus.metrics()).routes[0]?.delivered).toBe(4)
  })

  it('take the word of an endpoint that times its handlers, and time those of one that does not', async () => {
    const { bus, hub } = await startHub(config)
    const subscribe = (peer: ReturnType<typeof rawPeer>, hello: object) =>
      subscribeRawEvents(peer, ModuleId.Storage, { kind: 'BestEffort' }, hello)
    const deliveryIds = (peer: ReturnType<typeof rawPeer>) =>
      peer.frames.flatMap((frame) => (frame.t === 'dlv' ? [frame.id as number] : []))
    const publish = (name: string) => bus.publish(rawMessage(MessagePriority.Normal, { eventType: name }))
    const slowHandlersOf = async (module: string) =>
      (await bus.metrics()).subscriptions.find((s) => s.module === module)?.slowHandlers

    /** Two deliveries acknowledged late, unmarked, and one at once, marked slow. */
    const answer = async (peer: ReturnType<typeof rawPeer>, deliveredBefore: number) => {
      for (const name of ['late', 'late', 'marked']) await publish(name)
      await waitFor(() => deliveryIds(peer).length === 3)
      const [first, second, marked] = deliveryIds(peer)
      peer.send([{ t: 'ack', ids: [], slow: [marked] }])
      await sleep(THRESHOLD_MS * 2)
      peer.send([{ t: 'ack', ids: [first, second] }])
      await waitFor(async () => (await bus.metrics()).messagesDelivered === deliveredBefore + 3)
    }

    const timing = rawPeer(hub, ModuleId.Storage)
    await subscribe(timing, { slow: true })
    expect(timing.frames.find((frame) => frame.t === 'welcome')).toMatchObject({ slowMs: THRESHOLD_MS })
    await answer(timing, 0)
    expect(await slowHandlersOf(ModuleId.Storage)).toBe(1)
    timing.send([{ t: 'bye' }])
    await waitFor(async () => (await bus.metrics()).subscriptions.length === 0)

    // One that did not say `slow`: the hub times it from send to ack, whatever it marks.
    const silent = rawPeer(hub, ModuleId.Storage)
    await subscribe(silent, {})
    await answer(silent, 3)
    expect(await slowHandlersOf(ModuleId.Storage)).toBe(2)
  })

  it('take the word of an endpoint that times its handlers on failures too, and time those of one that does not', async () => {
    const { bus, hub } = await startHub(config)
    /** Fails three deliveries: two at once, marked slow; one late, unmarked. Resolves with the slow count. */
    const fail = async (hello: object) => {
      const peer = rawPeer(hub, ModuleId.Storage)
      await subscribeRawEvents(peer, ModuleId.Storage, { kind: 'BestEffort' }, hello)
      for (const name of ['marked', 'marked', 'late'])
        await bus.publish(rawMessage(MessagePriority.Normal, { eventType: name }))
      await waitFor(() => peer.frames.filter((frame) => frame.t === 'dlv').length === 3)
      const ids = peer.frames.flatMap((frame) => (frame.t === 'dlv' ? [frame.id as number] : []))
      const nack = (id: number | undefined, marks: object) =>
        peer.send([{ t: 'nack', id, error: 'Error: no', timedOut: false, ...marks }])
      nack(ids[0], { slow: true })
      nack(ids[1], { slow: true })
      await sleep(THRESHOLD_MS * 2)
      nack(ids[2], {})
      await waitFor(async () => (await bus.metrics()).subscriptions[0]?.failed === 3)
      const slow = (await bus.metrics()).subscriptions[0]?.slowHandlers
      peer.send([{ t: 'bye' }])
      await waitFor(async () => (await bus.metrics()).subscriptions.length === 0)
      return slow
    }
    expect(await fail({ slow: true })).toBe(2)
    // One that did not say `slow`: the hub times it from send to nack, whatever it marks.
    expect(await fail({})).toBe(1)
  })

  it('count a delivery once, however often an endpoint marks it, and nothing for ids never sent', async () => {
    const { bus, hub } = await startHub(config)
    const peer = rawPeer(hub, ModuleId.Storage)
    await subscribeRawEvents(peer, ModuleId.Storage, { kind: 'Reliable' }, { slow: true })
    await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'once' }))
    await waitFor(() => peer.frames.some((frame) => frame.t === 'dlv'))
    const id = peer.frames.find((frame) => frame.t === 'dlv')?.id as number
    peer.send([
      { t: 'ack', ids: [id], slow: [id, id, id + 1_000] },
      { t: 'nack', id, error: 'late', timedOut: false, slow: true },
    ])
    await waitFor(async () => (await bus.metrics()).messagesDelivered === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await bus.metrics()).subscriptions[0]).toMatchObject({ delivered: 1, failed: 0, slowHandlers: 0 })
    await expectAccounted(bus)
  })
})
