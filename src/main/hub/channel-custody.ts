/**
 * What the hub holds for direct channels, so that no Reliable delivery is lost when a side goes:
 * copies the producer hands back, deliveries the consumer failed or had not settled as the channel
 * closed, and those waiting for a retry. Each delivery (a subscription's copy of a message) is taken
 * once and requeued on the hub path (or dead-lettered, when its subscription is gone) once the
 * producer can no longer settle it.
 * What an endpoint can make the hub hold is bounded by what its channel could have unsettled.
 */
import { DeadLetterReason } from '../../shared/dead-letter.js'
import { EventBusError } from '../../shared/errors.js'
import type { Envelope } from '../../shared/message.js'
import { type DirectCounts, type PriorAttempts, zeroDirectCounts } from '../../shared/wire.js'
import type { EventBus } from '../bus/index.js'
import type { BusInternals } from '../bus/internal.js'
import {
  type Channel,
  countsKey,
  DIRECT_WINDOW,
  deliveryKey,
  type Orphan,
  type RouteEndpoint,
} from './route.js'
import { assertDeliveryOf } from './route-checks.js'

export class ChannelCustody {
  constructor(
    private readonly bus: EventBus,
    private readonly internals: BusInternals,
    /** Adds counts of a channel to the bus's counters and its route's. */
    private readonly count: (channel: Channel, counts: DirectCounts) => void,
  ) {}

  /**
   * The most copies of a channel that can be unsettled at once, so the most its producer can hand
   * back or its consumer have held: all the producer can have in flight, plus its backlog (refused
   * with `QueueFull` at `maxQueueSize`, which one publish can pass by a copy for each subscription
   * the channel serves).
   */
  mostUnsettled(served: ReadonlyMap<string, boolean>): number {
    return DIRECT_WINDOW + this.bus.config.maxQueueSize + served.size
  }

  /**
   * A copy the producer of `channel` had unacknowledged when the channel went down (or had not
   * sent, `unsent`), queued again on the hub path.
   * @throws EventBusError `Unauthorized` or `MessageRejected` (see {@link assertDeliveryOf}), or
   * `MessageRejected` past what its window and its queue could hold; checked before anything counts
   */
  fromProducer(
    channel: Channel,
    from: RouteEndpoint,
    subscriptionId: string,
    message: Envelope,
    unsent: boolean,
    prior: PriorAttempts | undefined,
  ): void {
    assertDeliveryOf(channel, from, subscriptionId, message, this.internals)
    const key = deliveryKey(subscriptionId, message.id)
    // Settled at the hub already: requeued, dead-lettered, or delivered from its custody.
    if (channel.settled.has(key)) return
    const most = this.mostUnsettled(channel.served)
    if (channel.handedBackByProducer >= most) {
      // More than its window and its queue could hold: not copies of this channel.
      throw EventBusError.of('MessageRejected', {
        reason: `channel ${channel.id}'s producer could hand back at most ${most} copies (its window and its queue)`,
        issues: [],
      })
    }
    channel.handedBackByProducer++
    channel.orphans.delete(key)
    channel.held.delete(key)
    this.takeBack(channel, subscriptionId, message, !unsent, 0, prior)
  }

  /**
   * A delivery the consumer of `channel` failed after the channel closed (its producer no longer
   * there to retry it): held while the producer is attached, since it hands the same message back.
   * @throws EventBusError as {@link assertDeliveryOf}, or `MessageRejected` past what the channel
   * could have had in flight
   */
  fromConsumer(channel: Channel, subscriptionId: string, message: Envelope): void {
    assertDeliveryOf(channel, channel.consumer, subscriptionId, message, this.internals)
    // A BestEffort delivery that failed is dropped, as it would have been with the producer there.
    if (channel.served.get(subscriptionId) !== true) return
    const key = deliveryKey(subscriptionId, message.id)
    const held = channel.held.get(key)
    if (held !== undefined) {
      // The held copy is requeued instead; this attempt's failure still counts.
      held.failedSinceReport = 1
      return
    }
    if (channel.settled.has(key) || channel.orphans.has(key)) return
    if (channel.orphans.size >= DIRECT_WINDOW) {
      // More than the channel could have had in flight: not deliveries of this channel.
      throw EventBusError.of('MessageRejected', {
        reason: `channel ${channel.id} had at most ${DIRECT_WINDOW} deliveries in flight`,
        issues: [],
      })
    }
    channel.orphans.set(key, { subscriptionId, message, failedSinceReport: 1 })
    if (channel.adoption === 'done') this.adoptOrphans(channel)
  }

  /**
   * Keeps a delivery whose first attempt failed, sent by the consumer of `channel` before the
   * producer retries it: requeued for its subscription on the hub path if the producer's session
   * ends before a retry succeeds (the consumer releases it), or it dead-letters or hands it back.
   * With `custody`, one the consumer had not settled when the channel closed (a held retry is
   * marked so): its release is then counted as its delivery, since no ack reaches the producer.
   * @throws EventBusError `Unauthorized` (a subscription the channel did not serve Reliably, or as
   * {@link assertDeliveryOf}), `MessageRejected` (an invalid message, or more than the producer
   * could be retrying)
   */
  hold(
    channel: Channel,
    from: RouteEndpoint,
    subscriptionId: string,
    message: Envelope,
    custody: boolean,
  ): void {
    assertDeliveryOf(channel, from, subscriptionId, message, this.internals)
    if (channel.served.get(subscriptionId) !== true) {
      // Only Reliable deliveries are retried.
      throw EventBusError.of('Unauthorized', {
        module: from.module,
        action: 'publish',
        type: message.payload.type,
      })
    }
    const key = deliveryKey(subscriptionId, message.id)
    if (channel.settled.has(key)) return
    const held = channel.held.get(key)
    if (held !== undefined) {
      // A retry in progress as the channel closed: its success now reaches only the hub.
      if (custody) held.custody = true
      return
    }
    const most = this.mostUnsettled(channel.served)
    if (channel.held.size >= most) {
      throw EventBusError.of('MessageRejected', {
        reason: `channel ${channel.id} can have at most ${most} deliveries waiting for a retry`,
        issues: [],
      })
    }
    channel.held.set(key, { subscriptionId, message, failedSinceReport: 0, custody })
    if (channel.adoption === 'done') this.adoptOrphans(channel)
  }

  /**
   * The consumer of `channel` settled the held deliveries of messages `ids` to subscription
   * `subscriptionId` (deliveries it never gave are ignored).
   */
  release(channel: Channel, subscriptionId: string, ids: readonly string[]): void {
    for (const id of ids) {
      const key = deliveryKey(subscriptionId, id)
      const held = channel.held.get(key)
      if (held === undefined) continue
      channel.held.delete(key)
      if (held.custody) this.releasedFromCustody(channel, held)
    }
  }

  /**
   * Requeues what the producer left behind: deliveries it was retrying (held) and those the
   * consumer failed after the channel closed, each delivery once.
   */
  adoptOrphans(channel: Channel): void {
    for (const orphans of [channel.held, channel.orphans]) {
      for (const { subscriptionId, message, failedSinceReport } of orphans.values()) {
        if (!channel.settled.has(deliveryKey(subscriptionId, message.id)))
          this.takeBack(channel, subscriptionId, message, true, failedSinceReport)
      }
      orphans.clear()
    }
  }

  /**
   * The consumer handled a delivery it had given the hub as the channel closed: counted delivered
   * here, since no ack of it reaches the producer, and settled, should the producer hand it back.
   */
  private releasedFromCustody(channel: Channel, { subscriptionId, message }: Orphan): void {
    const { type } = message.payload
    const key = countsKey(subscriptionId, type)
    channel.settled.add(deliveryKey(subscriptionId, message.id))
    channel.deliveredInCustody.set(key, (channel.deliveredInCustody.get(key) ?? 0) + 1)
    this.count(channel, { ...zeroDirectCounts(subscriptionId, type), delivered: 1 })
  }

  /**
   * Requeues a delivery of `channel` on the hub path, counted as handed back: if it had been
   * counted as routed over the channel (`routedOverChannel`), that is undone, since the hub path
   * routes it again; `failed` attempts nobody counted yet are counted too.
   */
  private takeBack(
    channel: Channel,
    subscriptionId: string,
    message: Envelope,
    routedOverChannel: boolean,
    failed: number,
    prior?: PriorAttempts,
  ): void {
    channel.settled.add(deliveryKey(subscriptionId, message.id))
    channel.route.stats.handedBack++
    if (routedOverChannel) {
      const counts = { ...zeroDirectCounts(subscriptionId, message.payload.type), failed, handedBack: 1 }
      this.internals.recordDirect(this.internals.find(subscriptionId), counts, channel.route.consumer)
    }
    this.requeue(channel, subscriptionId, message, prior)
  }

  /**
   * Queues `message` again for its subscription (going on from `prior` attempts, if any), or
   * dead-letters it with the reason that subscription ended when it no longer exists.
   */
  private requeue(channel: Channel, subscriptionId: string, message: Envelope, prior?: PriorAttempts): void {
    const { route } = channel
    const subscription = this.internals.find(subscriptionId)
    if (subscription !== undefined) {
      this.internals.handBack(message, subscription, prior)
      return
    }
    // As the core does for what an ended subscription still held: with the reason it ended for.
    const shuttingDown =
      this.bus.state !== 'running' || this.bus.registry.get(route.consumer)?.status === 'ShuttingDown'
    const reason =
      this.internals.endReason(subscriptionId) ??
      (shuttingDown ? DeadLetterReason.Shutdown : DeadLetterReason.SubscriberUnavailable)
    this.internals.deadLetter({
      message,
      subscriptionId,
      module: route.consumer,
      reason,
      attempts: prior?.attempts ?? 0,
      ...(prior?.error === undefined ? {} : { lastError: prior.error }),
      firstFailedAt: new Date(prior?.firstFailedAt ?? Date.now()),
      counted: false,
    })
  }
}
