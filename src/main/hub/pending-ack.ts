/**
 * The hub's side of a delivery to an endpoint: settled by the endpoint's ack or nack, or counted
 * timed out by the hub itself once the endpoint should long have answered (a hung endpoint).
 */
import { PRIORITY_LEVELS } from '../../shared/catalog.js'
import { monotonicMs } from '../../shared/clock.js'
import type { Settleable, SettleableAttempt } from '../bus/subscription.js'

/** How long past the handler's own timeout the hub waits for an ack before counting a timeout itself. */
export const ACK_GRACE_MS = 1000

/**
 * Deliveries sent to one remote subscription, per priority. An endpoint runs the deliveries waiting
 * there highest priority first, so those sent later at a higher priority go ahead of one waiting.
 */
export class SentByPriority {
  private readonly sent = new Array<number>(PRIORITY_LEVELS).fill(0)

  count(priority: number): void {
    if (priority in this.sent) this.sent[priority]!++
  }

  /** Deliveries sent so far at a priority above `priority`. */
  above(priority: number): number {
    let count = 0
    for (let level = priority + 1; level < PRIORITY_LEVELS; level++) count += this.sent[level]!
    return count
  }
}

/** A delivery sent to the endpoint, settled by its ack or nack (the core's attempt is called back). */
export class PendingAck implements Settleable {
  private attempt: SettleableAttempt | undefined
  /** When it was sent, on the monotonic clock the sweep reads (see awakeInterval). */
  readonly sentAt = monotonicMs()
  private readonly aboveAtSend: number

  /**
   * @param handlerTimeoutMs the timeout the endpoint enforces, reported when it times out
   * @param ahead deliveries of the subscription unacknowledged when this one was sent
   * @param priority the message's
   * @param sent what the subscription was sent, per priority
   */
  constructor(
    readonly handlerTimeoutMs: number,
    private readonly ahead: number,
    private readonly priority: number,
    private readonly sent: SentByPriority,
  ) {
    this.aboveAtSend = sent.above(priority)
  }

  /**
   * Whether the hub stops waiting for the ack at `now`. The endpoint runs `workers` handlers at
   * once, each within its timeout, so a delivery with n others ahead of it starts within
   * floor(n / workers) timeouts, then has its own. Ahead of it are those unacknowledged when it was
   * sent and those of higher priority sent since, which overtake it at the endpoint.
   */
  overdueAt(now: number, workers: number): boolean {
    const ahead = this.ahead + this.sent.above(this.priority) - this.aboveAtSend
    const ackWithinMs = (Math.floor(ahead / workers) + 1) * this.handlerTimeoutMs + ACK_GRACE_MS
    return now > this.sentAt + ackWithinMs
  }

  settleInto(attempt: SettleableAttempt): void {
    this.attempt = attempt
  }

  /** @param slow whether the handler ran slow, where the endpoint says; else the core measures */
  ack(slow?: boolean): void {
    this.attempt?.succeeded(slow)
  }

  /** @param slow as for `ack` */
  nack(error: unknown, slow?: boolean): void {
    this.attempt?.failed(error, slow)
  }

  /**
   * The endpoint never ran it (its subscription was unsubscribed there first), or, for one the bus
   * ended as it shut down, says whether it had (`ran`).
   */
  withdraw(ran = false): void {
    this.attempt?.withdrawn(ran)
  }
}
