/**
 * Predicates run at the endpoint (the hub cannot run an endpoint's function). BUS-API: "A predicate
 * that throws counts as 'no match' for that message, is counted in metrics, and never stops the
 * bus", over the hub path and over a direct route alike.
 */
import { describe, expect, it } from 'vitest'
import {
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import { MAX_PREDICATE_ERRORS } from '../../src/shared/wire.js'
import { expectAccounted, rawMessage, waitFor } from '../helpers.js'
import {
  captureToStorage,
  connectClient,
  rawPeer,
  startHub,
  subscribeRawEvents,
  untilActive,
} from './fixture.js'

/** A RawEvent from DataCapture named `eventType`. */
const raw = (eventType: string) => rawMessage(MessagePriority.Normal, { eventType })

/** Storage subscribed Reliable with a predicate that throws on 'boom', declines 'skip' and 1-valued answers. */
async function storageWithPredicate(hub: Hub) {
  const storage = await connectClient(hub, ModuleId.Storage)
  const handled: string[] = []
  const filter = MessageFilter.types(['RawEvent']).withPredicate((message) => {
    const name = message.payload.data.eventType
    if (name === 'boom') throw new Error('predicate bug')
    // Only `true` is a match, as in the bus: a truthy non-boolean is not.
    return (name === 'truthy' ? 1 : name !== 'skip') as boolean
  })
  await storage.subscribe(
    ModuleId.Storage,
    filter,
    DeliveryMode.Reliable({ timeoutMs: 1_000 }),
    (message) => {
      handled.push(message.payload.data.eventType)
    },
  )
  return handled
}

async function expectCountedAsNoMatch(bus: EventBus, handled: string[]) {
  await waitFor(() => handled.includes('last'))
  await waitFor(async () => (await bus.metrics()).predicateErrors === 2)
  await waitFor(async () => (await bus.metrics()).subscriptions[0]?.delivered === 6)
  expect(handled).toEqual(['ok', 'last'])
  const metrics = await bus.metrics()
  expect(metrics.subscriptions[0]).toMatchObject({
    predicateErrors: 2,
    failed: 0,
    retried: 0,
    deadLettered: 0,
  })
  expect(metrics.messagesFailed).toBe(0)
  expect(bus.deadLetters.list()).toEqual([])
  await expectAccounted(bus)
}

const NAMES = ['ok', 'boom', 'skip', 'truthy', 'boom', 'last']

describe('predicates at an endpoint', () => {
  it('count a throwing predicate as no match and in predicateErrors, never as a failed delivery', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 2, retry: { initialMs: 5, maxMs: 20 } })
    const handled = await storageWithPredicate(hub)
    for (const name of NAMES) await bus.publish(raw(name))
    await expectCountedAsNoMatch(bus, handled)
  })

  it('do the same for a subscription a direct route serves', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 2, retry: { initialMs: 5, maxMs: 20 } })
    const route = captureToStorage(hub)
    const handled = await storageWithPredicate(hub)
    const capture = await connectClient(hub, ModuleId.DataCapture)
    await untilActive(route)
    for (const name of NAMES) await capture.publish(raw(name))
    await expectCountedAsNoMatch(bus, handled)
  })

  it('take reported predicate errors only for the endpoint’s own subscriptions, and refuse malformed reports', async () => {
    const { bus, hub } = await startHub()
    const others = await storageWithPredicate(hub)
    expect(others).toEqual([])
    const [othersSid] = (await bus.metrics()).subscriptions.map((subscription) => subscription.id)
    const peer = rawPeer(hub, ModuleId.Gamification)
    const ownSid = await subscribeRawEvents(peer, ModuleId.Gamification, { kind: 'BestEffort' })
    peer.send([
      { t: 'perr', counts: [{ sid: ownSid, count: 3 }] },
      { t: 'perr', counts: [{ sid: othersSid, count: 5 }] }, // not its own: ignored
      { t: 'perr', counts: [{ sid: 'gone', count: 5 }] }, // unsubscribed meanwhile: ignored
      { t: 'perr', counts: [{ sid: ownSid, count: 0 }] },
      { t: 'perr', counts: [{ sid: ownSid, count: MAX_PREDICATE_ERRORS + 1 }] },
      { t: 'perr', counts: [] },
      { t: 'ping' },
    ])
    await waitFor(() => peer.frames.some((frame) => frame.t === 'pong'))
    const refusals = peer.frames.filter((frame) => frame.t === 'err')
    expect(refusals).toHaveLength(3)
    for (const refusal of refusals)
      expect(refusal).toMatchObject({ error: { data: { kind: 'MessageRejected' } } })
    const metrics = await bus.metrics()
    expect(metrics.predicateErrors).toBe(3)
    expect(metrics.subscriptions.map((subscription) => subscription.predicateErrors)).toEqual([0, 3])
  })
})
