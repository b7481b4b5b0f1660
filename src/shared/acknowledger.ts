/**
 * Where an endpoint's handlers report each delivery's outcome: acks, batched per tick, and nacks,
 * sent at once, over the link the delivery came by (the hub's, or a direct channel's).
 */
import type { EventBusError } from './errors.js'
import { failureText } from './failure-text.js'
import type { Link } from './link.js'
import type { Envelope } from './message.js'
import type { EndpointFrame, HubFrame } from './wire.js'

export interface Delivery {
  readonly id: number
  readonly subscriptionId: string
  readonly message: Envelope
  readonly timeoutMs: number
  /** A direct channel's retry of a delivery that failed (the hub holds its message meanwhile). */
  readonly again: boolean
  /** Where its ack or nack goes. */
  readonly via: Acknowledger
}

/** Acks of deliveries that came over one link, batched per tick; nacks go at once. */
export class Acknowledger {
  private ids: number[] = []
  /** Acks of deliveries whose handler ran past the bus's slow-handler threshold. */
  private slowIds: number[] = []
  private flushQueued = false

  constructor(protected readonly link: Link<HubFrame, EndpointFrame>) {}

  /**
   * Checks a message before it is handed to a handler: where the sender is not the hub (a direct
   * channel's producer) the endpoint trusts it no more than the hub would. None here.
   */
  screen(_message: Envelope): EventBusError | undefined {
    return undefined
  }

  /** `delivery` came in and goes to its subscription (or was acknowledged at once). */
  arrived(_delivery: Delivery): void {}

  /**
   * The handler settled `delivery` successfully (or no handler here wants it); `slow` when it ran
   * past the bus's slow-handler threshold.
   */
  handled(delivery: Delivery, slow = false): void {
    if (slow) this.slowIds.push(delivery.id)
    else this.ids.push(delivery.id)
    if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(this.flush)
    }
  }

  /**
   * The handler of a subscription (`reliable` or not) failed (or timed out) on `delivery`; `slow`
   * when it ran past the bus's slow-handler threshold.
   */
  failed(delivery: Delivery, error: unknown, timedOut: boolean, _reliable: boolean, slow = false): void {
    this.nack(delivery.id, error, timedOut, slow)
  }

  /**
   * `delivery` will never run (its subscription was unsubscribed here first), or its result will
   * not count (the bus ended the subscription while it ran: `ran`, and `error` says so). Its
   * sender ends it as a copy the subscription still held (dead-lettered, or dropped).
   */
  gone(
    delivery: Delivery,
    error = 'Unsubscribed: the subscription ended before this delivery ran',
    ran = false,
  ): void {
    this.link.send({
      t: 'nack',
      id: delivery.id,
      error,
      timedOut: false,
      gone: true,
      ...(ran ? { ran } : {}),
    })
  }

  /** Fails delivery `id` (without handling it when its message did not pass `screen`). */
  nack(id: number, error: unknown, timedOut: boolean, slow = false): void {
    const text = failureText(error)
    this.link.send({ t: 'nack', id, error: text, timedOut, ...(slow ? { slow } : {}) })
  }

  readonly flush = (): void => {
    this.flushQueued = false
    if (this.ids.length === 0 && this.slowIds.length === 0) return
    this.link.send({ t: 'ack', ids: this.ids, ...(this.slowIds.length > 0 ? { slow: this.slowIds } : {}) })
    this.ids = []
    this.slowIds = []
  }
}
