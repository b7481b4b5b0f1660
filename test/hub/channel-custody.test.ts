/**
 * What the hub holds for a direct channel, on its own: a real bus in process stands behind it, the
 * channel is built as the route table builds one, and the endpoints are names. The direct-route
 * tests hold the same rules across threads, with real producers and consumers dying mid-stream;
 * these hold each rule alone, in milliseconds: what is taken, what is refused before anything
 * counts, what is requeued, counted or dead-lettered, and that each message is taken once.
 */
import { describe, expect, it } from 'vitest'
import {
  createEventBus,
  DeadLetterReason,
  DeliveryMode,
  MessageFilter,
  ModuleId,
  ModuleStatus,
} from '../../src/main/bus/index.js'
import { busInternals, type WithInternals } from '../../src/main/bus/internal.js'
import { ChannelCustody } from '../../src/main/hub/channel-custody.js'
import { countsKey, DIRECT_WINDOW, newChannel, Route, type RouteEndpoint } from '../../src/main/hub/route.js'
import type { Envelope } from '../../src/shared/message.js'
import { BusMessage, MessagePayload } from '../../src/shared/message.js'
import { type DirectCounts, zeroDirectCounts } from '../../src/shared/wire.js'
import { flushMicrotasks, rawMessage, shutDownAfterEach, thrownBy, validData, waitFor } from '../helpers.js'

const track = shutDownAfterEach()
const MAX_QUEUE = 4
const FAILED_BEFORE = { attempts: 2, error: 'Error: disk full', firstFailedAt: 1_700_000_000_000 }

/** An endpoint of the channel: only its module is read here. */
function endpoint(module: string): RouteEndpoint {
  return { module } as RouteEndpoint
}

/**
 * The hub's custody around a route DataCapture → Storage for RawEvent, whose channel serves one
 * in-process subscription of Storage (`sid`, of `mode`), with a handler that runs `handle`.
 */
async function custodyAround(
  mode: 'Reliable' | 'BestEffort' = 'Reliable',
  handle: (message: Envelope) => void = () => {},
) {
  const bus = track(
    createEventBus({
      maxQueueSize: MAX_QUEUE,
      maxRetryAttempts: 3,
      retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
    }),
  )
  await bus.start()
  const internals = (bus as unknown as WithInternals)[busInternals]
  const received: Envelope[] = []
  const sid = await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    mode === 'Reliable' ? DeliveryMode.Reliable() : DeliveryMode.BestEffort,
    (message) => {
      received.push(message)
      handle(message)
    },
  )
  const counted: DirectCounts[] = []
  const custody = new ChannelCustody(bus, internals, (_, counts) => counted.push(counts))
  const producer = endpoint(ModuleId.DataCapture)
  const consumer = endpoint(ModuleId.Storage)
  const route = new Route(
    'data-capture→storage#1',
    { producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] },
    { revoke: () => {}, heldFor: () => 0 },
    1000,
  )
  const target = { sid, types: ['RawEvent'], reliable: mode === 'Reliable', timeoutMs: 1000 }
  const channel = newChannel({
    id: `${route.id}.1`,
    route,
    producer,
    consumer,
    terms: { seq: 0, targets: [target], shared: [] },
    covered: new Set(),
    settledCapacity: (served) => 2 * custody.mostUnsettled(served),
  })
  /** What the subscription's metrics say, once what was queued has run. */
  const stats = async () => {
    await flushMicrotasks()
    const found = (await bus.metrics()).subscriptions.find((each) => each.id === sid)
    if (found === undefined) throw new Error(`no subscription ${sid}`)
    return found
  }
  /** The copy the producer's reports counted as routed over the channel, as the route table counts it. */
  const reportRouted = () =>
    internals.recordDirect(
      internals.find(sid),
      { ...zeroDirectCounts(sid, 'RawEvent'), routed: 1 },
      ModuleId.Storage,
    )
  return { bus, sid, received, counted, custody, channel, producer, consumer, route, stats, reportRouted }
}

/** The refusal of a RawEvent delivery a channel never made for that subscription, naming who sent it. */
function refusedDelivery(module: string) {
  return { kind: 'Unauthorized', module, action: 'publish', type: 'RawEvent' }
}

/** Messages a channel can never have carried for the route, each with the refusal it earns. */
const notTheChannels = [
  {
    what: 'another module’s message',
    message: () => BusMessage.create(ModuleId.Gamification, MessagePayload.RawEvent(validData.RawEvent())),
    refusal: { kind: 'Unauthorized', action: 'source' },
  },
  {
    what: 'a type the route does not carry',
    message: () =>
      BusMessage.create(ModuleId.DataCapture, MessagePayload.StateChange(validData.StateChange())),
    refusal: { kind: 'Unauthorized', action: 'publish', type: 'StateChange' },
  },
  {
    what: 'an invalid message',
    message: () => ({ ...rawMessage(), payload: { type: 'RawEvent', data: { eventType: 7 } } }) as Envelope,
    refusal: { kind: 'MessageRejected' },
  },
]

describe('a direct channel’s custody at the hub', () => {
  it('can have unsettled at most the window, the queue bound and a copy for each served subscription', async () => {
    const { custody } = await custodyAround()
    expect(custody.mostUnsettled(new Map([['a', true]]))).toBe(DIRECT_WINDOW + MAX_QUEUE + 1)
    expect(
      custody.mostUnsettled(
        new Map([
          ['a', true],
          ['b', false],
          ['c', true],
        ]),
      ),
    ).toBe(DIRECT_WINDOW + MAX_QUEUE + 3)
  })

  describe('a copy its producer hands back', () => {
    it('is queued again on the hub path for its subscription, once, taken off what the channel routed', async () => {
      const { custody, channel, producer, sid, received, route, stats, reportRouted, counted } =
        await custodyAround()
      reportRouted()
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
      expect(route.stats.handedBack).toBe(1)
      expect(channel.handedBackByProducer).toBe(1)
      expect(await stats()).toMatchObject({ routed: 1, delivered: 1, failed: 0 })
      expect(counted).toEqual([]) // the route's counts are the route table's, from reports
    })

    it('one it never sent is queued with nothing taken off what the channel routed', async () => {
      const { custody, channel, producer, sid, received, route, stats } = await custodyAround()
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, true, undefined)
      await waitFor(() => received.length > 0)
      expect(route.stats.handedBack).toBe(1)
      expect(await stats()).toMatchObject({ routed: 1, delivered: 1 })
    })

    it('goes on from the attempts that failed over the channel', async () => {
      const { bus, custody, channel, producer, sid, received } = await custodyAround('Reliable', () => {
        throw new Error('still broken')
      })
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, false, FAILED_BEFORE)
      await waitFor(() => bus.deadLetters.list().length > 0)
      // Four attempts in all (maxRetryAttempts 3): two over the channel, two here.
      expect(received).toHaveLength(2)
      expect(bus.deadLetters.list()).toEqual([
        expect.objectContaining({
          message,
          subscriptionId: sid,
          reason: DeadLetterReason.MaxRetriesExceeded,
          attempts: 4,
          firstFailedAt: new Date(FAILED_BEFORE.firstFailedAt),
          lastError: 'Error: still broken',
        }),
      ])
    })

    it('is taken out of what the consumer gave the hub to hold or failed, so it is queued once', async () => {
      const { custody, channel, producer, consumer, sid, received } = await custodyAround()
      const [held, failed] = [rawMessage(), rawMessage()]
      custody.hold(channel, consumer, sid, held, false)
      custody.fromConsumer(channel, sid, failed)
      custody.fromProducer(channel, producer, sid, held, false, undefined)
      custody.fromProducer(channel, producer, sid, failed, false, undefined)
      expect(channel.held.size).toBe(0)
      expect(channel.orphans.size).toBe(0)
      custody.adoptOrphans(channel)
      await waitFor(() => received.length === 2)
      await flushMicrotasks()
      expect(received).toEqual([held, failed])
    })

    it('is not taken again once the hub settled it: the consumer handled it in the hub’s custody', async () => {
      const { custody, channel, producer, consumer, sid, received, route } = await custodyAround()
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, true)
      custody.release(channel, sid, [message.id])
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      await flushMicrotasks()
      expect(received).toEqual([])
      expect(route.stats.handedBack).toBe(0)
      expect(channel.handedBackByProducer).toBe(0)
    })

    it('is dead-lettered when its subscription has ended, with the reason it ended for and its attempts', async () => {
      const { bus, custody, channel, producer, sid, route } = await custodyAround()
      await bus.unsubscribe(sid)
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, false, FAILED_BEFORE)
      expect(route.stats.handedBack).toBe(1)
      expect(bus.deadLetters.list()).toEqual([
        expect.objectContaining({
          message,
          subscriptionId: sid,
          module: ModuleId.Storage,
          reason: DeadLetterReason.Unsubscribed,
          attempts: FAILED_BEFORE.attempts,
          lastError: FAILED_BEFORE.error,
          firstFailedAt: new Date(FAILED_BEFORE.firstFailedAt),
        }),
      ])
      // The channel's report never counted it: the hub does.
      expect((await bus.metrics()).messagesDeadLettered).toBe(1)
    })

    it('of a subscription long gone is dead-lettered SubscriberUnavailable, or Shutdown while its module shuts down', async () => {
      const { bus, custody, channel, producer } = await custodyAround()
      const before = Date.now()
      channel.served.set('gone-1', true).set('gone-2', true)
      custody.fromProducer(channel, producer, 'gone-1', rawMessage(), false, undefined)
      bus.registry.register(ModuleId.Storage)
      bus.registry.setStatus(ModuleId.Storage, ModuleStatus.ShuttingDown)
      custody.fromProducer(channel, producer, 'gone-2', rawMessage(), true, undefined)
      const letters = bus.deadLetters.list()
      expect(letters.map(({ subscriptionId, reason }) => [subscriptionId, reason])).toEqual(
        expect.arrayContaining([
          ['gone-1', DeadLetterReason.SubscriberUnavailable],
          ['gone-2', DeadLetterReason.Shutdown],
        ]),
      )
      for (const letter of letters) {
        expect(letter).toMatchObject({ attempts: 0, module: ModuleId.Storage })
        expect(letter).not.toHaveProperty('lastError')
        expect(letter.firstFailedAt.getTime()).toBeGreaterThanOrEqual(before)
      }
    })

    it('of a subscription long gone is dead-lettered Shutdown while the bus shuts down', async () => {
      const { bus, custody, channel, producer } = await custodyAround()
      channel.served.set('gone', true)
      const stopping = bus.shutdown()
      custody.fromProducer(channel, producer, 'gone', rawMessage(), false, undefined)
      await stopping
      expect(
        bus.deadLetters.list().map(({ subscriptionId, reason }) => [subscriptionId, reason]),
      ).toContainEqual(['gone', DeadLetterReason.Shutdown])
    })

    it.each(notTheChannels)('refuses $what before anything counts', async ({ message, refusal }) => {
      const { custody, channel, producer, sid, received, route } = await custodyAround()
      const refused = message()
      expect(
        thrownBy(() => custody.fromProducer(channel, producer, sid, refused, false, undefined)),
      ).toMatchObject(refusal)
      expect(channel.settled.has(refused.id)).toBe(false)
      expect([route.stats.handedBack, channel.handedBackByProducer, received.length]).toEqual([0, 0, 0])
    })

    it('refuses one for a subscription the channel never served', async () => {
      const { custody, channel, producer, route } = await custodyAround()
      expect(
        thrownBy(() => custody.fromProducer(channel, producer, 'other', rawMessage(), false, undefined)),
      ).toMatchObject(refusedDelivery(ModuleId.DataCapture))
      expect(route.stats.handedBack).toBe(0)
    })

    it('refuses more than its window and its queue could hold', async () => {
      const { custody, channel, producer, sid, route } = await custodyAround()
      const most = custody.mostUnsettled(channel.served)
      channel.handedBackByProducer = most - 1
      custody.fromProducer(channel, producer, sid, rawMessage(), false, undefined)
      const refused = rawMessage()
      expect(
        thrownBy(() => custody.fromProducer(channel, producer, sid, refused, false, undefined)),
      ).toMatchObject({
        kind: 'MessageRejected',
        reason: `channel ${channel.id}'s producer could hand back at most ${most} copies (its window and its queue)`,
      })
      expect(channel.settled.has(refused.id)).toBe(false)
      expect(route.stats.handedBack).toBe(1)
    })
  })

  describe('a delivery its consumer failed after the channel closed', () => {
    it('is held while the producer is attached, then queued again with its failure counted', async () => {
      const { custody, channel, sid, received, stats, reportRouted } = await custodyAround()
      reportRouted()
      const message = rawMessage()
      custody.fromConsumer(channel, sid, message)
      custody.fromConsumer(channel, sid, message)
      await flushMicrotasks()
      expect(received).toEqual([])
      custody.adoptOrphans(channel)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
      expect(await stats()).toMatchObject({ routed: 1, failed: 1, delivered: 1 })
      expect(channel.orphans.size).toBe(0)
    })

    it('of a subscription that ended since counts its failure for the consumer’s module, and is dead-lettered', async () => {
      const { bus, custody, channel, sid } = await custodyAround()
      await bus.unsubscribe(sid)
      custody.fromConsumer(channel, sid, rawMessage())
      custody.adoptOrphans(channel)
      const { modules, messagesFailed } = await bus.metrics()
      expect(messagesFailed).toBe(1)
      expect(modules[ModuleId.Storage]).toMatchObject({ failed: 1 })
      expect(modules[ModuleId.DataCapture]?.failed ?? 0).toBe(0)
      expect(bus.deadLetters.list().map(({ reason }) => reason)).toEqual([DeadLetterReason.Unsubscribed])
    })

    it('is queued at once when what the producer left was adopted already', async () => {
      const { custody, channel, sid, received } = await custodyAround()
      channel.adoption = 'done'
      const message = rawMessage()
      custody.fromConsumer(channel, sid, message)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
    })

    it('of a BestEffort subscription is dropped, as it would have been with the producer there', async () => {
      const { custody, channel, sid, received, stats } = await custodyAround('BestEffort')
      custody.fromConsumer(channel, sid, rawMessage())
      custody.adoptOrphans(channel)
      await flushMicrotasks()
      expect(received).toEqual([])
      expect(channel.orphans.size).toBe(0)
      expect(await stats()).toMatchObject({ routed: 0, failed: 0 })
    })

    it('that the hub holds for a retry marks the held copy failed: that one is queued, once', async () => {
      const { custody, channel, consumer, sid, received, stats, reportRouted } = await custodyAround()
      reportRouted()
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, false)
      custody.fromConsumer(channel, sid, message)
      expect(channel.orphans.size).toBe(0)
      custody.adoptOrphans(channel)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
      expect(await stats()).toMatchObject({ routed: 1, failed: 1, delivered: 1 })
    })

    it('is not taken once the hub settled it', async () => {
      const { custody, channel, producer, sid, received } = await custodyAround()
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      custody.fromConsumer(channel, sid, message)
      expect(channel.orphans.size).toBe(0)
      await waitFor(() => received.length > 0)
      await flushMicrotasks()
      expect(received).toEqual([message])
    })

    it('refuses more than the channel could have had in flight', async () => {
      const { custody, channel, sid } = await custodyAround()
      for (let i = 0; i < DIRECT_WINDOW; i++) custody.fromConsumer(channel, sid, rawMessage())
      const refused = rawMessage()
      expect(thrownBy(() => custody.fromConsumer(channel, sid, refused))).toMatchObject({
        kind: 'MessageRejected',
        reason: `channel ${channel.id} had at most ${DIRECT_WINDOW} deliveries in flight`,
      })
      expect(channel.orphans.size).toBe(DIRECT_WINDOW)
      expect(channel.orphans.has(refused.id)).toBe(false)
    })

    it.each(notTheChannels)('refuses $what before anything is kept', async ({ message, refusal }) => {
      const { custody, channel, sid } = await custodyAround()
      expect(thrownBy(() => custody.fromConsumer(channel, sid, message()))).toMatchObject(refusal)
      expect(channel.orphans.size).toBe(0)
    })

    it('refuses one for a subscription the channel never served, naming the consumer', async () => {
      const { custody, channel } = await custodyAround()
      expect(thrownBy(() => custody.fromConsumer(channel, 'other', rawMessage()))).toMatchObject(
        refusedDelivery(ModuleId.Storage),
      )
    })
  })

  describe('a delivery its consumer gives the hub to hold while the producer retries it', () => {
    it('is released by a retry that succeeded, and then never queued', async () => {
      const { custody, channel, consumer, sid, received, counted } = await custodyAround()
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, false)
      custody.release(channel, sid, [message.id, 'never-given'])
      expect(channel.held.size).toBe(0)
      custody.adoptOrphans(channel)
      await flushMicrotasks()
      expect(received).toEqual([])
      expect(counted).toEqual([]) // the producer's ack counts that delivery
    })

    it('is queued again, with no failure counted twice, when the producer goes before a retry succeeds', async () => {
      const { custody, channel, consumer, sid, received, stats, route, reportRouted } = await custodyAround()
      reportRouted()
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, false)
      custody.hold(channel, consumer, sid, message, false)
      custody.adoptOrphans(channel)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
      expect(route.stats.handedBack).toBe(1)
      expect(await stats()).toMatchObject({ routed: 1, failed: 0, delivered: 1 })
      expect(channel.held.size).toBe(0)
    })

    it('is queued at once when what the producer left was adopted already', async () => {
      const { custody, channel, consumer, sid, received } = await custodyAround()
      channel.adoption = 'done'
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, false)
      await waitFor(() => received.length > 0)
      expect(received).toEqual([message])
    })

    it('in custody (unsettled as the channel closed) counts its release as its delivery, once, and settles it', async () => {
      const { custody, channel, consumer, producer, sid, received, counted } = await custodyAround()
      const [message, other] = [rawMessage(), rawMessage()]
      custody.hold(channel, consumer, sid, message, true)
      custody.hold(channel, consumer, sid, other, true)
      custody.release(channel, sid, [message.id])
      custody.release(channel, sid, [message.id, other.id])
      const one = { ...zeroDirectCounts(sid, 'RawEvent'), delivered: 1 }
      expect(counted).toEqual([one, one])
      // What the consumer's final counts include beside the producer's reports.
      expect(channel.deliveredInCustody).toEqual(new Map([[countsKey(sid, 'RawEvent'), 2]]))
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      custody.hold(channel, consumer, sid, message, true)
      expect(channel.held.size).toBe(0)
      await flushMicrotasks()
      expect(received).toEqual([])
    })

    it('held already for a retry goes into custody when the channel closes, and stays there', async () => {
      const { custody, channel, consumer, sid, counted } = await custodyAround()
      const [retried, again] = [rawMessage(), rawMessage()]
      custody.hold(channel, consumer, sid, retried, false)
      custody.hold(channel, consumer, sid, retried, true)
      custody.hold(channel, consumer, sid, again, true)
      custody.hold(channel, consumer, sid, again, false)
      custody.release(channel, sid, [retried.id, again.id])
      expect(counted.map(({ delivered }) => delivered)).toEqual([1, 1])
    })

    it('of a BestEffort subscription is refused: only Reliable deliveries are retried', async () => {
      const { custody, channel, consumer, sid } = await custodyAround('BestEffort')
      expect(thrownBy(() => custody.hold(channel, consumer, sid, rawMessage(), false))).toMatchObject(
        refusedDelivery(ModuleId.Storage),
      )
      expect(channel.held.size).toBe(0)
    })

    it('refuses more than the producer could be retrying', async () => {
      const { custody, channel, consumer, sid } = await custodyAround()
      const most = custody.mostUnsettled(channel.served)
      for (let i = 0; i < most; i++) custody.hold(channel, consumer, sid, rawMessage(), false)
      const refused = rawMessage()
      expect(thrownBy(() => custody.hold(channel, consumer, sid, refused, false))).toMatchObject({
        kind: 'MessageRejected',
        reason: `channel ${channel.id} can have at most ${most} deliveries waiting for a retry`,
      })
      expect(channel.held.size).toBe(most)
    })

    it.each(notTheChannels)('refuses $what before anything is kept', async ({ message, refusal }) => {
      const { custody, channel, consumer, sid } = await custodyAround()
      expect(thrownBy(() => custody.hold(channel, consumer, sid, message(), false))).toMatchObject(refusal)
      expect(channel.held.size).toBe(0)
    })
  })

  describe('a channel serving two subscriptions of its consumer', () => {
    /** `context` with a second Reliable subscription of Storage to RawEvent, served by the channel too. */
    async function withSecond(context: Awaited<ReturnType<typeof custodyAround>>) {
      const receivedBySecond: Envelope[] = []
      const second = await context.bus.subscribe(
        ModuleId.Storage,
        MessageFilter.types(['RawEvent']),
        DeliveryMode.Reliable(),
        (message) => {
          receivedBySecond.push(message)
        },
      )
      context.channel.served.set(second, true)
      return { ...context, second, receivedBySecond }
    }

    it('takes back each subscription’s copy of a message its producer hands back', async () => {
      const { custody, channel, producer, sid, second, received, receivedBySecond, route } = await withSecond(
        await custodyAround(),
      )
      const message = rawMessage()
      custody.fromProducer(channel, producer, sid, message, false, undefined)
      custody.fromProducer(channel, producer, second, message, false, undefined)
      await waitFor(() => received.length > 0 && receivedBySecond.length > 0)
      expect([received, receivedBySecond]).toEqual([[message], [message]])
      expect(route.stats.handedBack).toBe(2)
    })

    it('holds each subscription’s copy for its retry, released one by one, and requeues each left', async () => {
      const { custody, channel, consumer, sid, second, received, receivedBySecond } = await withSecond(
        await custodyAround(),
      )
      const [released, left] = [rawMessage(), rawMessage()]
      for (const message of [released, left]) {
        custody.hold(channel, consumer, sid, message, false)
        custody.hold(channel, consumer, second, message, false)
      }
      expect(channel.held.size).toBe(4)
      custody.release(channel, second, [released.id])
      custody.adoptOrphans(channel)
      await waitFor(() => received.length === 2 && receivedBySecond.length === 1)
      await flushMicrotasks()
      expect([received, receivedBySecond]).toEqual([[released, left], [left]])
    })

    it('requeues each subscription’s copy the consumer failed after the channel closed', async () => {
      const { custody, channel, sid, second, received, receivedBySecond } = await withSecond(
        await custodyAround(),
      )
      const message = rawMessage()
      custody.fromConsumer(channel, sid, message)
      custody.fromConsumer(channel, second, message)
      custody.adoptOrphans(channel)
      await waitFor(() => received.length > 0 && receivedBySecond.length > 0)
      expect([received, receivedBySecond]).toEqual([[message], [message]])
    })

    it('counts each subscription’s copy released from custody', async () => {
      const { custody, channel, consumer, sid, second, counted } = await withSecond(await custodyAround())
      const message = rawMessage()
      custody.hold(channel, consumer, sid, message, true)
      custody.hold(channel, consumer, second, message, true)
      custody.release(channel, sid, [message.id])
      custody.release(channel, second, [message.id])
      expect(counted.map(({ sid, delivered }) => [sid, delivered])).toEqual([
        [sid, 1],
        [second, 1],
      ])
    })
  })

  it('requeues each message once, though the consumer both failed it and gave it to hold', async () => {
    const { custody, channel, consumer, sid, received, stats, reportRouted } = await custodyAround()
    reportRouted()
    const message = rawMessage()
    custody.fromConsumer(channel, sid, message)
    custody.hold(channel, consumer, sid, message, false)
    custody.adoptOrphans(channel)
    custody.adoptOrphans(channel)
    await waitFor(() => received.length > 0)
    expect(received).toEqual([message])
    expect(await stats()).toMatchObject({ routed: 1, delivered: 1 })
  })
})
