/**
 * The consumer's side of a direct channel: it checks each message as the hub would, acknowledges to
 * the producer, and keeps the hub informed of what only it can know for sure.
 *
 * - A Reliable delivery whose first attempt fails is given to the hub to hold before the nack goes
 *   to the producer, and released once a retry succeeds: should the producer die at any moment,
 *   even with the nack unread, the hub still has the message and requeues it.
 * - When the channel closes, every Reliable delivery that has arrived and not yet settled is given
 *   to the hub to hold too, and released as it succeeds: from then on the consumer is the only one
 *   left with it, so should the consumer die as well (its producer already gone), the hub requeues
 *   it instead of it being lost with the consumer's backlog.
 * - It counts, by subscription and type, what arrived and how each delivery ended. Once the
 *   channel has closed and every delivery has settled, it gives the hub those counts (`rfin`): if
 *   the producer died before reporting its last counts, the hub takes the rest from them. As the
 *   channel closes it also sends its counts so far (`rfin` with `provisional`), which the hub uses
 *   should the consumer die before it can send its final ones.
 */
import { Acknowledger, type Delivery } from './acknowledger.js'
import { EventBusError } from './errors.js'
import type { Link } from './link.js'
import type { Envelope } from './message.js'
import type { MessageValidator } from './message-validator.js'
import { nestedValue } from './nested-map.js'
import { type ChannelOutcomes, type EndpointFrame, type HubFrame, zeroChannelOutcomes } from './wire.js'

export class DirectConsumer extends Acknowledger {
  /** Outcomes by subscription, then type, over the channel's life. */
  private readonly outcomes = new Map<string, Map<string, ChannelOutcomes>>()
  /** The tally counted last: consecutive deliveries are mostly of one subscription and type. */
  private last: ChannelOutcomes | undefined
  /** Deliveries that arrived and have not settled yet. */
  private readonly unsettled = new Set<Delivery>()
  /** Unsettled deliveries the hub was given to hold when the channel closed. */
  private readonly custody = new Set<Delivery>()
  private closed = false
  private reported = false

  constructor(
    readonly id: string,
    link: Link<HubFrame, EndpointFrame>,
    private readonly peer: string,
    private readonly types: ReadonlySet<string>,
    private readonly validator: MessageValidator,
    /** Sends a frame to the hub over the endpoint's own link. */
    private readonly toHub: (frame: EndpointFrame) => void,
    /** Whether this endpoint's subscription `sid` is Reliable (false if it is unknown here). */
    private readonly isReliable: (sid: string) => boolean,
    /** Deliveries the producer may have unsettled here at once: the channel's window. */
    private readonly window: number,
  ) {
    super(link)
  }

  /**
   * Refuses a delivery past the channel's window (a producer that ignores it would have this
   * endpoint queue without bound, where the hub path's queues are bounded), then checks the message.
   */
  override screen(message: Envelope): EventBusError | undefined {
    if (this.unsettled.size >= this.window) {
      return EventBusError.of('QueueFull', { currentSize: this.unsettled.size, maxSize: this.window })
    }
    if (message.source !== this.peer) {
      return EventBusError.of('Unauthorized', { module: this.peer, action: 'source' })
    }
    if (!this.types.has(message.payload?.type)) {
      return EventBusError.of('Unauthorized', {
        module: this.peer,
        action: 'publish',
        type: String(message.payload?.type),
      })
    }
    try {
      this.validator.validate(message)
      return undefined
    } catch (error) {
      return error as EventBusError
    }
  }

  override arrived(delivery: Delivery): void {
    this.unsettled.add(delivery)
    if (!delivery.again) this.tally(delivery).arrived++
  }

  override handled(delivery: Delivery, slow = false): void {
    const tally = this.tally(delivery)
    tally.delivered++
    if (slow) tally.slow++
    // The hub held this message since its first attempt failed, or since the channel closed.
    if (this.custody.delete(delivery) || delivery.again)
      this.toHub({ t: 'rrel', id: this.id, to: delivery.subscriptionId, ids: [delivery.message.id] })
    super.handled(delivery, slow)
    this.settled(delivery)
  }

  override failed(
    delivery: Delivery,
    error: unknown,
    timedOut: boolean,
    reliable: boolean,
    slow = false,
  ): void {
    const tally = this.tally(delivery)
    tally.failed++
    if (slow) tally.slow++
    if (!reliable) tally.dropped++
    // After the channel closed, no one is left to retry it: the hub takes it (once, if the producer
    // hands it back too, or if it holds it already). Before, the hub holds it from its first failure on.
    this.custody.delete(delivery)
    if (reliable) this.leaveWithHub(delivery)
    if (this.link.isOpen) super.failed(delivery, error, timedOut, reliable, slow)
    this.settled(delivery)
  }

  override gone(delivery: Delivery, error?: string, ran = false): void {
    const reliable = this.isReliable(delivery.subscriptionId)
    // Counted as its producer counts it: a BestEffort copy dropped, a Reliable one dead-lettered.
    if (!reliable) this.tally(delivery).dropped++
    this.custody.delete(delivery)
    // The producer ends it; the hub holds it meanwhile, in case the producer died before it could
    // (its channel not yet seen closed here). With the channel closed, no producer is left to: the
    // hub takes it for a subscription that is gone.
    if (reliable) this.leaveWithHub(delivery)
    if (this.link.isOpen) super.gone(delivery, error, ran)
    this.settled(delivery)
  }

  /**
   * Gives the hub a Reliable delivery whose end its producer may not live to report: to hold while
   * the channel is open (unless a retry's, held already), to take once it closed.
   */
  private leaveWithHub({ message, subscriptionId, again }: Delivery): void {
    const open = this.link.isOpen
    if (open && again) return
    const held = open ? { held: true as const } : {}
    this.toHub({ t: 'pub', rid: 0, msg: message, via: this.id, to: subscriptionId, ...held })
  }

  /**
   * The channel's port closed: the hub holds the Reliable deliveries not yet settled, in custody;
   * the final counts go once every delivery has settled.
   */
  close(): void {
    this.closed = true
    if (this.unsettled.size > 0) this.leaveUnsettledWithHub()
    this.finish()
  }

  /**
   * Gives the hub every unsettled Reliable delivery (a retry's message is held already: this marks
   * it as in custody) and the counts as if this endpoint died now, its unsettled BestEffort
   * deliveries counted dropped, for the hub to use should it.
   */
  private leaveUnsettledWithHub(): void {
    const ifGoneNow = new Map<ChannelOutcomes, ChannelOutcomes>()
    for (const delivery of this.unsettled) {
      const { message, subscriptionId: to } = delivery
      if (this.isReliable(to)) {
        this.custody.add(delivery)
        this.toHub({ t: 'pub', rid: 0, msg: message, via: this.id, to, held: true, custody: true })
        continue
      }
      const tally = this.tally(delivery)
      const snapshot = ifGoneNow.get(tally) ?? { ...tally }
      snapshot.dropped++
      ifGoneNow.set(tally, snapshot)
    }
    const outcomes = this.tallies().map((tally) => ifGoneNow.get(tally) ?? tally)
    this.toHub({ t: 'rfin', id: this.id, outcomes, provisional: true })
  }

  private settled(delivery: Delivery): void {
    this.unsettled.delete(delivery)
    this.finish()
  }

  private finish(): void {
    if (!this.closed || this.unsettled.size > 0 || this.reported) return
    this.reported = true
    this.toHub({ t: 'rfin', id: this.id, outcomes: this.tallies() })
  }

  private tallies(): ChannelOutcomes[] {
    return [...this.outcomes.values()].flatMap((byType) => [...byType.values()])
  }

  private tally({ subscriptionId: sid, message }: Delivery): ChannelOutcomes {
    const type = message.payload.type
    const last = this.last
    if (last !== undefined && last.sid === sid && last.type === type) return last
    const tally = nestedValue(this.outcomes, sid, type, () => zeroChannelOutcomes(sid, type))
    this.last = tally
    return tally
  }
}
