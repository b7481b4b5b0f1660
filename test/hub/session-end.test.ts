/**
 * What an endpoint's session leaves behind when it ends, by why it ended: a lost or replaced
 * endpoint's Reliable subscriptions wait (parked) for the module to attach again and take them
 * back by identity, filter and mode; an endpoint that leaves on purpose ends them, and its backlog
 * is dead-lettered as its module's state says. Raw endpoints over real ports in this thread.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { BusMessage, MessagePayload, ModuleId, ModuleStatus } from '../../src/main/bus/index.js'
import { subscriptionKey } from '../../src/main/hub/session.js'
import type { HubCore } from '../../src/main/hub/types.js'
import { DeliveryMode } from '../../src/shared/delivery-mode.js'
import { rawEvent, sleep, waitFor } from '../helpers.js'
import { publishRawEvents, type RawFrame, rawPeer, startHub } from './fixture.js'

const reliable = { kind: 'Reliable', timeoutMs: 1_000 }
const bestEffort = { kind: 'BestEffort' }
const rawEvents = { types: ['RawEvent'] }

type Peer = ReturnType<typeof rawPeer>

/** Subscribes raw peer `peer` (greeted already) as Storage; resolves with the subscription id. */
async function subscribe(
  peer: Peer,
  rid: number,
  mode: object,
  filter: object = rawEvents,
  resumes?: string,
): Promise<string> {
  peer.send([{ t: 'sub', rid, module: ModuleId.Storage, filter, mode, ...(resumes && { resumes }) }])
  await waitFor(() => peer.frames.some((frame) => frame.t === 'res' && frame.rid === rid))
  return peer.frames.find((frame) => frame.t === 'res' && frame.rid === rid)?.ok as string
}

/** A raw Storage endpoint, greeted. */
function storage(hub: Parameters<typeof rawPeer>[0]): Peer {
  const peer = rawPeer(hub, ModuleId.Storage)
  peer.send([{ t: 'hello', v: 1 }])
  return peer
}

/** Subscribes a Storage endpoint Reliable to `filter`, then loses it: resolves with the parked subscription's id. */
async function parkedSubscription(
  bus: Awaited<ReturnType<typeof startHub>>['bus'],
  hub: Parameters<typeof rawPeer>[0],
  filter: object = rawEvents,
): Promise<string> {
  const lost = storage(hub)
  const parked = await subscribe(lost, 1, reliable, filter)
  lost.port.close()
  await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true)
  return parked
}

const deliveries = (peer: Peer) => peer.frames.filter((frame: RawFrame) => frame.t === 'dlv')

describe('a session that ends', () => {
  it('parks a lost endpoint’s Reliable subscriptions, and ends the others at once', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const peer = storage(hub)
    const kept = await subscribe(peer, 1, reliable)
    const ended = await subscribe(peer, 2, bestEffort)
    peer.port.close()
    await waitFor(() => hub.attachments().length === 0)
    const { subscriptions } = await bus.metrics()
    expect(subscriptions.map(({ id, parked }) => ({ id, parked }))).toEqual([{ id: kept, parked: true }])
    expect(subscriptions.some(({ id }) => id === ended)).toBe(false)
  })

  it('with no grace, ends a lost endpoint’s Reliable subscriptions as soon as it is lost, as unavailable', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 0, reliableWindow: 1 })
    const peer = storage(hub)
    const sid = await subscribe(peer, 1, reliable)
    await publishRawEvents(bus, 3)
    await waitFor(() => deliveries(peer).length === 1)
    peer.port.close()
    await waitFor(async () => !(await bus.metrics()).subscriptions.some(({ id }) => id === sid))
    expect(bus.deadLetters.list().map(({ reason }) => reason)).toEqual([
      'SubscriberUnavailable',
      'SubscriberUnavailable',
      'SubscriberUnavailable',
    ])
  })

  it('gives a parked subscription back to its module attached again, with the same filter and mode, its types in any order', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const types = { types: ['RawEvent', 'StateChange'] }
    const parked = await parkedSubscription(bus, hub, types)
    await publishRawEvents(bus, 3)
    const second = storage(hub)
    // Another timeout is another mode: a subscription of its own.
    const other = await subscribe(second, 1, { ...reliable, timeoutMs: 2_000 }, types)
    expect(other).not.toBe(parked)
    expect(await subscribe(second, 2, reliable, { types: ['StateChange', 'RawEvent'] })).toBe(parked)
    await waitFor(() => deliveries(second).filter((frame) => frame.sid === parked).length === 3)
    expect(bus.deadLetters.list()).toEqual([])
  })

  it('tells the connection that took a parked subscription back when the bus ends it at shutdown', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const parked = await parkedSubscription(bus, hub)
    const second = storage(hub)
    expect(await subscribe(second, 1, reliable)).toBe(parked)
    await bus.shutdown({ drainTimeoutMs: 0 })
    await waitFor(() => second.frames.some((frame) => frame.t === 'ended'))
    expect(second.frames.filter((frame) => frame.t === 'ended')).toEqual([
      { t: 'ended', sid: parked, reason: 'the bus shut down' },
    ])
  })

  it('gives back the parked subscription a subscribe names, and no other of the same filter and mode', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const first = storage(hub)
    const older = await subscribe(first, 1, reliable)
    const newer = await subscribe(first, 2, reliable)
    first.port.close()
    await waitFor(async () => (await bus.metrics()).subscriptions.every(({ parked }) => parked))
    const second = storage(hub)
    expect(await subscribe(second, 1, reliable, rawEvents, newer)).toBe(newer)
    // One not parked (ended, or never this module's) is none to take back: a new one, the older
    // left parked; and one of another mode is not given back by its id.
    const fresh = await subscribe(second, 2, reliable, rawEvents, 'sub-that-ended')
    expect([older, newer]).not.toContain(fresh)
    const otherMode = await subscribe(second, 3, { ...reliable, timeoutMs: 2_000 }, rawEvents, older)
    expect(otherMode).not.toBe(older)
    const { subscriptions } = await bus.metrics()
    expect(subscriptions.filter(({ parked }) => parked).map(({ id }) => id)).toEqual([older])
    expect(await subscribe(second, 4, reliable)).toBe(older)
  })

  it('refuses a subscribe whose `resumes` is no subscription id, naming it, and gives nothing back', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const parked = await parkedSubscription(bus, hub)
    const second = storage(hub)
    const bad = [5, '', 'x'.repeat(129)]
    second.send(
      bad.map((resumes, i) => ({
        t: 'sub',
        rid: i + 1,
        module: ModuleId.Storage,
        filter: rawEvents,
        mode: reliable,
        resumes,
      })),
    )
    await waitFor(() => second.frames.filter((frame) => frame.t === 'rej').length === bad.length)
    for (const refusal of second.frames.filter((frame) => frame.t === 'rej')) {
      expect(JSON.stringify(refusal)).toContain("invalid frame 'sub'")
      expect(JSON.stringify(refusal)).toContain('resumes')
    }
    const { subscriptions } = await bus.metrics()
    expect(subscriptions.map(({ id, parked }) => ({ id, parked }))).toEqual([{ id: parked, parked: true }])
    expect(await subscribe(second, 9, reliable, rawEvents, parked)).toBe(parked)
  })

  it('keeps each parked subscription for its own grace, whatever becomes of its module’s others', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 2_000 })
    const [first, second, third] = [
      { types: ['RawEvent'] },
      { types: ['StateChange'] },
      { types: ['InterventionRequest'] },
    ]
    const early = storage(hub)
    const taken = await subscribe(early, 1, reliable, first)
    const expiring = await subscribe(early, 2, reliable, second)
    early.port.close()
    await sleep(1_000)
    const late = storage(hub)
    const kept = await subscribe(late, 1, reliable, third)
    late.port.close()
    await waitFor(async () => (await bus.metrics()).subscriptions.filter(({ parked }) => parked).length === 3)
    const back = storage(hub)
    expect(await subscribe(back, 1, reliable, first)).toBe(taken)
    // The first two's grace ends; the third's, a second later, has not.
    await waitFor(async () => !(await bus.metrics()).subscriptions.some(({ id }) => id === expiring), 3_000)
    expect(await subscribe(back, 2, reliable, third)).toBe(kept)
  })

  it('parks the Reliable subscriptions of an attachment its identity’s next one replaced, for that one to take back', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const first = storage(hub)
    const parked = await subscribe(first, 1, reliable)
    const second = storage(hub)
    await waitFor(() => first.frames.some((frame) => frame.t === 'bye'))
    expect(first.frames.find((frame) => frame.t === 'bye')).toMatchObject({ reason: 'superseded' })
    await publishRawEvents(bus, 2)
    expect(await subscribe(second, 1, reliable)).toBe(parked)
    await waitFor(() => deliveries(second).length === 2)
    expect(bus.deadLetters.list()).toEqual([])
  })

  it('lets its module’s next connection unsubscribe what it parked, by id, and no other module', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const peer = storage(hub)
    const sid = await subscribe(peer, 1, reliable)
    peer.port.close()
    await waitFor(() => hub.attachments().length === 0)
    await publishRawEvents(bus, 2)

    /** The answer `peer` got to its request 1: `res` or `rej`. */
    const answer = async (peer: Peer) => {
      const isAnswer = (frame: RawFrame) => (frame.t === 'res' || frame.t === 'rej') && frame.rid === 1
      await waitFor(() => peer.frames.some(isAnswer))
      return peer.frames.find(isAnswer)
    }
    const stranger = rawPeer(hub, ModuleId.Gamification)
    stranger.send([
      { t: 'hello', v: 1 },
      { t: 'unsub', rid: 1, sid },
    ])
    expect(await answer(stranger)).toMatchObject({
      t: 'rej',
      error: { data: { kind: 'SubscriptionNotFound' } },
    })
    expect((await bus.metrics()).subscriptions.map(({ id }) => id)).toEqual([sid])

    const next = storage(hub)
    next.send([{ t: 'unsub', rid: 1, sid }])
    expect(await answer(next)).toMatchObject({ t: 'res' })
    expect((await bus.metrics()).subscriptions).toEqual([])
    expect(bus.deadLetters.list().map(({ reason }) => reason)).toEqual(['Unsubscribed', 'Unsubscribed'])
  })

  it('ends the subscriptions of an endpoint that says bye: what waited for it is dead-lettered as Unsubscribed', async () => {
    const { bus, hub } = await startHub({}, { reliableWindow: 1 })
    const peer = storage(hub)
    const sid = await subscribe(peer, 1, reliable)
    await publishRawEvents(bus, 3)
    await waitFor(() => deliveries(peer).length === 1)
    peer.send([{ t: 'bye' }])
    await waitFor(() => bus.deadLetters.list().length >= 2)
    expect(new Set(bus.deadLetters.list().map(({ reason }) => reason))).toEqual(new Set(['Unsubscribed']))
    expect((await bus.metrics()).subscriptions.some(({ id }) => id === sid)).toBe(false)
  })

  it('dead-letters as Shutdown what waited for an endpoint that says bye while its module shuts down', async () => {
    const { bus, hub } = await startHub({}, { reliableWindow: 1 })
    const peer = storage(hub)
    await subscribe(peer, 1, reliable)
    await publishRawEvents(bus, 3)
    await waitFor(() => deliveries(peer).length === 1)
    bus.registry.setStatus(ModuleId.Storage, ModuleStatus.ShuttingDown)
    peer.send([{ t: 'bye' }])
    await waitFor(() => bus.deadLetters.list().length >= 2)
    expect(new Set(bus.deadLetters.list().map(({ reason }) => reason))).toEqual(new Set(['Shutdown']))
  })

  it('ends once: detaching an ended attachment again leaves what its module’s earlier connections took remembered', async () => {
    const { bus, hub } = await startHub()
    const messages = [1, 2].map(() =>
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
    )
    // Two connections that send again each take one publish, and end.
    for (const message of messages) {
      const { port1, port2 } = new MessageChannel()
      const attachment = hub.attach(port1, {
        module: ModuleId.DataCapture,
        permissions: { publish: '*', subscribe: [] },
      })
      const frames: RawFrame[] = []
      port2.on('message', (unit: RawFrame[]) => frames.push(...unit))
      port2.postMessage([
        { t: 'hello', v: 1, again: true },
        { t: 'pubs', rid: 1, msgs: [message] },
      ])
      await waitFor(() => frames.some((frame) => frame.t === 'okr'))
      attachment.detach()
      // The hub remembers the last four ended connections: an end counted again would push the first out.
      for (let again = 0; again < 4; again++) attachment.detach()
      port2.close()
    }
    const last = rawPeer(hub, ModuleId.DataCapture)
    last.send([
      { t: 'hello', v: 1, again: true },
      { t: 'pubs', rid: 1, msgs: messages, again: true },
    ])
    await waitFor(() => last.frames.some((frame) => frame.t === 'okr'))
    await sleep(20)
    expect((await bus.metrics()).messagesPublished).toBe(2)
  })
})

describe('the key a parked subscription is taken back by', () => {
  it('is the module, the filter (its lists in any order) and the whole mode', () => {
    const mode = DeliveryMode.Reliable({ timeoutMs: 1_000 })
    const key = subscriptionKey('storage', { types: ['a', 'b'], sources: ['x', 'y'] }, mode)
    expect(subscriptionKey('storage', { types: ['b', 'a'], sources: ['y', 'x'] }, mode)).toBe(key)
    for (const [module, filter, other] of [
      ['gamification', { types: ['a', 'b'], sources: ['x', 'y'] }, mode],
      ['storage', { types: ['a'], sources: ['x', 'y'] }, mode],
      ['storage', { types: ['a', 'b'] }, mode],
      ['storage', { types: ['a', 'b'], sources: ['x', 'y'], minPriority: 2 }, mode],
      ['storage', { types: ['a', 'b'], sources: ['x', 'y'] }, DeliveryMode.Reliable({ timeoutMs: 2_000 })],
    ] as const) {
      expect(subscriptionKey(module, filter, other)).not.toBe(key)
    }
  })
})

describe('a hub that closes', () => {
  it('ends every attachment, revokes every route, ends what was parked, and stops taking metrics', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 }, { reconnectGraceMs: 60_000 })
    const route = hub.route({
      producer: ModuleId.DataCapture,
      consumer: ModuleId.Gamification,
      types: ['RawEvent'],
    })
    const parked = await parkedSubscription(bus, hub)
    await publishRawEvents(bus, 2)
    const live = rawPeer(hub, ModuleId.DataCapture)
    live.send([{ t: 'hello', v: 1 }])
    await waitFor(() => live.frames.some((frame) => frame.t === 'welcome'))
    const feed = (hub as unknown as HubCore).metricsFeed
    await waitFor(() => feed.history().length > 0)
    hub.close()
    expect(hub.attachments()).toEqual([])
    await waitFor(() => live.frames.some((frame) => frame.t === 'bye'))
    expect(live.frames.find((frame) => frame.t === 'bye')).toMatchObject({ reason: 'hub-closed' })
    expect(route).toMatchObject({ state: 'revoked', reason: 'the hub closed' })
    expect((await bus.metrics()).subscriptions.some(({ id }) => id === parked)).toBe(false)
    expect(bus.deadLetters.list().map(({ reason }) => reason)).toEqual([
      'SubscriberUnavailable',
      'SubscriberUnavailable',
    ])
    const lastPoint = feed.history().at(-1)
    await sleep(100)
    expect(feed.history().at(-1)).toBe(lastPoint)
  })

  it('leaves no timer of its own behind: what was parked keeps no process alive for the rest of its grace', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const before = timers()
    await parkedSubscription(bus, hub)
    expect(timers()).toBe(before + 1) // the grace
    hub.close()
    expect(timers()).toBe(before)
  })
})
