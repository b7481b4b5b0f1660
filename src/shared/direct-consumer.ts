/**
 * The consumer's side of a direct channel: it checks each message as the hub would, acknowledges to
 * the producer, and keeps the hub informed of what only it can know for sure.
 *
 * - A Reliable delivery whose first attempt fails is given to the hub to hold before the nack goes
 *   to the producer, and released once a retry succeeds: should the producer die at any moment,
 *   even with the nack unread, the hub still has the message and requeues it.
 * - It counts, by subscription and type, what arrived and how each delivery ended. Once the
 *   channel has closed and every delivery has settled, it gives the hub those counts (`rfin`): if
 *   the producer died before reporting its last counts, the hub takes the rest from them.
 */
import { Acknowledger, type Delivery } from './acknowledger.js'
import { bySubscriptionAndType } from './by-subscription.js'
import { EventBusError } from './errors.js'
import type { Link } from './link.js'
import type { Envelope } from './message.js'
import type { MessageValidator } from './message-validator.js'
import type { ChannelOutcomes, EndpointFrame, HubFrame } from './wire.js'

export class DirectConsumer extends Acknowledger {
  /** Outcomes by subscription, then type, over the channel's life. */
  private readonly outcomes = new Map<string, Map<string, ChannelOutcomes>>()
  /** The tally counted last: consecutive deliveries are mostly of one subscription and type. */
  private last: ChannelOutcomes | undefined
  /** Deliveries that arrived and have not settled yet. */
  private unsettled = 0
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
  ) {
    super(link)
  }

  override screen(message: Envelope): EventBusError | undefined {
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
    this.unsettled++
    if (!delivery.again) this.tally(delivery).arrived++
  }

  override handled(delivery: Delivery): void {
    this.tally(delivery).delivered++
    // The hub held this message since its first attempt failed.
    if (delivery.again) this.toHub({ t: 'rrel', id: this.id, ids: [delivery.message.id] })
    super.handled(delivery)
    this.settled()
  }

  override failed(delivery: Delivery, error: unknown, timedOut: boolean, reliable: boolean): void {
    const tally = this.tally(delivery)
    tally.failed++
    if (!reliable) tally.dropped++
    // After the channel closed, no one is left to retry it: the hub takes it (once, if the producer
    // hands it back too). Before, the hub holds it from its first failure on.
    if (reliable && (!this.link.isOpen || !delivery.again)) {
      this.toHub({
        t: 'pub',
        rid: 0,
        msg: delivery.message,
        via: this.id,
        to: delivery.subscriptionId,
        ...(this.link.isOpen ? { held: true as const } : {}),
      })
    }
    if (this.link.isOpen) super.failed(delivery, error, timedOut, reliable)
    this.settled()
  }

  /** The channel's port closed: the final counts go once every delivery has settled. */
  close(): void {
    this.closed = true
    this.finish()
  }

  private settled(): void {
    this.unsettled--
    this.finish()
  }

  private finish(): void {
    if (!this.closed || this.unsettled > 0 || this.reported) return
    this.reported = true
    const outcomes = [...this.outcomes.values()].flatMap((byType) => [...byType.values()])
    this.toHub({ t: 'rfin', id: this.id, outcomes })
  }

  private tally({ subscriptionId: sid, message }: Delivery): ChannelOutcomes {
    const type = message.payload.type
    const last = this.last
    if (last !== undefined && last.sid === sid && last.type === type) return last
    const tally = bySubscriptionAndType(this.outcomes, sid, type, () => ({
      sid,
      type,
      arrived: 0,
      delivered: 0,
      failed: 0,
      dropped: 0,
    }))
    this.last = tally
    return tally
  }
}
