/**
 * The consumer's side of a direct channel, over a recording link: what it refuses before a handler
 * runs, what it counts, and when it hands the hub a Reliable delivery to hold or to take. The
 * direct-route integration tests hold the whole path; these hold each rule on its own, in
 * milliseconds, with every frame to the hub checked against the hub's schema.
 */
import { describe, expect, it } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import type { Delivery } from '../../src/shared/acknowledger.js'
import { builtinCatalog } from '../../src/shared/catalog.js'
import { DirectConsumer } from '../../src/shared/direct-consumer.js'
import type { Envelope } from '../../src/shared/message.js'
import { messageValidator } from '../../src/shared/message-validator.js'
import {
  type ChannelOutcomes,
  type EndpointFrame,
  endpointFrameSchema,
  zeroChannelOutcomes,
} from '../../src/shared/wire.js'
import { flushMicrotasks, rawMessage, validData } from '../helpers.js'
import { recordingLink } from './recording-link.js'

const CHANNEL = 'c1'
const RELIABLE = 'reliable'
const BEST_EFFORT = 'best-effort'

/** A consumer of RawEvent and StateChange from DataCapture, with a window of `window` deliveries. */
function directConsumer(window = 64) {
  const channel = recordingLink()
  const toHub: EndpointFrame[] = []
  const consumer = new DirectConsumer(
    CHANNEL,
    channel.link,
    ModuleId.DataCapture,
    new Set(['RawEvent', 'StateChange']),
    messageValidator(builtinCatalog, 1 << 20),
    (frame) => toHub.push(endpointFrameSchema.parse(frame)),
    (sid) => sid === RELIABLE,
    window,
  )
  let nextId = 1
  /** A delivery that arrived over the channel (`again` when it is a retry). */
  const arrive = (subscriptionId: string, again = false, message: Envelope = rawMessage()): Delivery => {
    const delivery: Delivery = {
      id: nextId++,
      subscriptionId,
      message,
      timeoutMs: 1_000,
      again,
      via: consumer,
    }
    consumer.arrived(delivery)
    return delivery
  }
  /** The channel's port closed, as the endpoint's channels see it. */
  const closeChannel = () => {
    channel.peer.closeFromPeer('the producer went away')
    consumer.close()
  }
  /** What went back to the producer so far: nacks at once, acks per tick. */
  const toProducer = async () => {
    await flushMicrotasks()
    return channel.sent().flat()
  }
  return { consumer, toHub, arrive, closeChannel, toProducer }
}

const stateChange = () =>
  BusMessage.create(ModuleId.DataCapture, MessagePayload.StateChange(validData.StateChange())) as Envelope

const outcomes = (sid: string, type: string, counts: Partial<ChannelOutcomes>): ChannelOutcomes => ({
  ...zeroChannelOutcomes(sid, type),
  ...counts,
})

const finals = (toHub: EndpointFrame[]) =>
  toHub.filter((frame) => frame.t === 'rfin' && frame.provisional === undefined)

describe('a direct channel’s consumer screens each message as the hub would', () => {
  it('takes a valid message of a routed type from its producer', () => {
    const { consumer } = directConsumer()
    expect(consumer.screen(rawMessage())).toBeUndefined()
    expect(consumer.screen(stateChange())).toBeUndefined()
  })

  it('refuses past its window, counting the deliveries unsettled, and takes again once one settles', () => {
    const { consumer, arrive } = directConsumer(2)
    const first = arrive(BEST_EFFORT)
    expect(consumer.screen(rawMessage())).toBeUndefined()
    arrive(BEST_EFFORT)
    expect(consumer.screen(rawMessage())).toMatchObject({ kind: 'QueueFull', currentSize: 2, maxSize: 2 })
    consumer.handled(first)
    expect(consumer.screen(rawMessage())).toBeUndefined()
  })

  it('refuses a message from another source, of a type not routed, or that fails its schema', () => {
    const { consumer } = directConsumer()
    expect(consumer.screen({ ...rawMessage(), source: ModuleId.Storage })).toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.DataCapture,
      action: 'source',
    })
    const heartbeat = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.HealthCheck(validData.HealthCheck()),
    ) as Envelope
    expect(consumer.screen(heartbeat)).toMatchObject({
      kind: 'Unauthorized',
      action: 'publish',
      type: 'HealthCheck',
    })
    const invalid = { ...rawMessage(), payload: { type: 'RawEvent', data: { eventType: 7 } } } as Envelope
    expect(consumer.screen(invalid)).toMatchObject({ kind: 'MessageRejected' })
  })
})

describe('a direct channel’s consumer counts', () => {
  it('by subscription and type: arrivals (a retry not again), deliveries, failures, drops and slow ones', () => {
    const { consumer, arrive, closeChannel, toHub } = directConsumer()
    const raw = arrive(BEST_EFFORT)
    const state = arrive(BEST_EFFORT, false, stateChange())
    const rawAgain = arrive(BEST_EFFORT)
    consumer.handled(raw, true)
    consumer.failed(state, new Error('boom'), false, false, true)
    consumer.handled(rawAgain)
    const failing = arrive(RELIABLE)
    consumer.failed(failing, new Error('boom'), false, true)
    const retry = arrive(RELIABLE, true, failing.message)
    consumer.handled(retry)
    const gone = arrive(BEST_EFFORT, false, stateChange())
    consumer.gone(gone)
    const goneReliable = arrive(RELIABLE)
    consumer.gone(goneReliable)
    closeChannel()
    expect(finals(toHub)).toEqual([
      {
        t: 'rfin',
        id: CHANNEL,
        outcomes: [
          outcomes(BEST_EFFORT, 'RawEvent', { arrived: 2, delivered: 2, slow: 1 }),
          outcomes(BEST_EFFORT, 'StateChange', { arrived: 2, failed: 1, dropped: 2, slow: 1 }),
          // A Reliable failure is the producer's to retry or dead-letter: not dropped here.
          outcomes(RELIABLE, 'RawEvent', { arrived: 2, delivered: 1, failed: 1 }),
        ],
      },
    ])
  })

  it('sends its final counts once, when the channel has closed and every delivery settled', () => {
    const { consumer, arrive, closeChannel, toHub } = directConsumer()
    const first = arrive(BEST_EFFORT)
    consumer.handled(first)
    expect(finals(toHub)).toEqual([])
    const second = arrive(BEST_EFFORT)
    closeChannel()
    expect(finals(toHub)).toEqual([])
    consumer.handled(second)
    expect(finals(toHub)).toEqual([
      { t: 'rfin', id: CHANNEL, outcomes: [outcomes(BEST_EFFORT, 'RawEvent', { arrived: 2, delivered: 2 })] },
    ])
    consumer.close()
    expect(finals(toHub)).toHaveLength(1)
  })

  it('sends its counts at once when the channel closes with nothing unsettled, and no provisional ones', () => {
    const { consumer, arrive, closeChannel, toHub } = directConsumer()
    consumer.handled(arrive(BEST_EFFORT))
    closeChannel()
    expect(toHub).toEqual([
      { t: 'rfin', id: CHANNEL, outcomes: [outcomes(BEST_EFFORT, 'RawEvent', { arrived: 1, delivered: 1 })] },
    ])
  })
})

describe('a direct channel’s consumer leaves with the hub what it alone holds', () => {
  it('a Reliable first failure goes to the hub to hold before the nack, and a retry’s success releases it', async () => {
    const { consumer, arrive, toHub, toProducer } = directConsumer()
    const first = arrive(RELIABLE)
    consumer.failed(first, new Error('boom'), false, true)
    expect(toHub).toEqual([{ t: 'pub', rid: 0, msg: first.message, via: CHANNEL, to: RELIABLE, held: true }])
    expect(await toProducer()).toEqual([{ t: 'nack', id: first.id, error: 'Error: boom', timedOut: false }])
    // A retry that fails too: the hub holds it already.
    const retry = arrive(RELIABLE, true, first.message)
    consumer.failed(retry, new Error('again'), false, true)
    const last = arrive(RELIABLE, true, first.message)
    consumer.handled(last)
    expect(toHub.slice(1)).toEqual([{ t: 'rrel', id: CHANNEL, to: RELIABLE, ids: [first.message.id] }])
  })

  it('a BestEffort failure, a first-time success and a retry’s gone tell the hub nothing', () => {
    const { consumer, arrive, toHub } = directConsumer()
    consumer.failed(arrive(BEST_EFFORT), new Error('boom'), false, false)
    consumer.handled(arrive(RELIABLE))
    consumer.gone(arrive(BEST_EFFORT))
    consumer.gone(arrive(RELIABLE, true))
    expect(toHub).toEqual([])
  })

  it('a Reliable delivery gone while the channel is open goes to the hub to hold, and its nack to the producer', async () => {
    const { consumer, arrive, toHub, toProducer } = directConsumer()
    const gone = arrive(RELIABLE)
    consumer.gone(gone)
    expect(toHub).toEqual([{ t: 'pub', rid: 0, msg: gone.message, via: CHANNEL, to: RELIABLE, held: true }])
    expect(await toProducer()).toMatchObject([{ t: 'nack', id: gone.id, gone: true }])
  })

  it('as the channel closes: each unsettled Reliable delivery goes into custody, with counts as if this endpoint died now', () => {
    const { consumer, arrive, closeChannel, toHub } = directConsumer()
    const reliable = arrive(RELIABLE)
    const retried = arrive(RELIABLE, true)
    arrive(BEST_EFFORT)
    arrive(BEST_EFFORT)
    consumer.handled(arrive(BEST_EFFORT))
    closeChannel()
    const custody = (delivery: Delivery) => ({
      t: 'pub',
      rid: 0,
      msg: delivery.message,
      via: CHANNEL,
      to: RELIABLE,
      held: true,
      custody: true,
    })
    expect(toHub).toEqual([
      custody(reliable),
      custody(retried),
      {
        t: 'rfin',
        id: CHANNEL,
        provisional: true,
        outcomes: [
          outcomes(RELIABLE, 'RawEvent', { arrived: 1 }),
          outcomes(BEST_EFFORT, 'RawEvent', { arrived: 3, delivered: 1, dropped: 2 }),
        ],
      },
    ])
  })

  it('after the channel closed: custody ends with a release, a failure or a gone; the last two are the hub’s to take, with nothing sent to the producer', async () => {
    const { consumer, arrive, closeChannel, toHub, toProducer } = directConsumer()
    const released = arrive(RELIABLE)
    const failed = arrive(RELIABLE)
    const gone = arrive(RELIABLE)
    const bestEffort = arrive(BEST_EFFORT)
    closeChannel()
    toHub.length = 0
    consumer.handled(released)
    consumer.failed(failed, new Error('boom'), false, true)
    consumer.gone(gone)
    consumer.failed(bestEffort, new Error('boom'), false, false)
    const take = (delivery: Delivery) => ({
      t: 'pub',
      rid: 0,
      msg: delivery.message,
      via: CHANNEL,
      to: RELIABLE,
    })
    expect(toHub).toEqual([
      { t: 'rrel', id: CHANNEL, to: RELIABLE, ids: [released.message.id] },
      take(failed),
      take(gone),
      {
        t: 'rfin',
        id: CHANNEL,
        outcomes: [
          outcomes(RELIABLE, 'RawEvent', { arrived: 3, delivered: 1, failed: 1 }),
          outcomes(BEST_EFFORT, 'RawEvent', { arrived: 1, failed: 1, dropped: 1 }),
        ],
      },
    ])
    expect(await toProducer()).toEqual([])
  })
})
