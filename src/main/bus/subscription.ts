/**
 * One subscription's delivery engine: its queue, its in-flight attempts, retries with backoff and
 * the accounting that keeps `routed = delivered + dropped + coalesced + dead-lettered`.
 */

import { monotonicMs } from '../../shared/clock.js'
import { DeadLetterReason } from '../../shared/dead-letter.js'
import type { DeliveryMode } from '../../shared/delivery-mode.js'
import { EventBusError, isEventBusError } from '../../shared/errors.js'
import { failureText } from '../../shared/failure-text.js'
import type { CompiledFilter } from '../../shared/filter.js'
import { InFlight } from '../../shared/in-flight.js'
import type { Envelope } from '../../shared/message.js'
import type {
  CopyCounters,
  Counters,
  LatencySummary,
  SubscriptionMetrics,
} from '../../shared/metrics-snapshot.js'
import { isThenable } from '../../shared/thenable.js'
import {
  DIRECT_OUTCOMES,
  type DirectCounts,
  type LatencyTallyReport,
  type PriorAttempts,
} from '../../shared/wire.js'
import type { EventBusConfig } from './config.js'
import { addCount, IntervalLatency, LatencyHistogram, newCopyCounters } from './metrics.js'
import { LatestOnlyQueue, type PendingCopy, PriorityQueue } from './queues.js'

/** A handler; for Reliable delivery, its returned promise settling successfully is the ack. */
export type MessageHandler<M = Envelope> = (message: M) => unknown

/** What a subscription needs from its bus. */
export interface DeliveryContext {
  readonly config: Readonly<EventBusConfig>
  readonly totals: Counters
  countersForType(type: string): Counters
  countersForModule(module: string): Counters
  /** A successful delivery happened now, `latencyMs` after its publish (the bus's rate and latency). */
  delivered(now: number, latencyMs: number): void
  /** A filter predicate threw `count` times (counted as no match). */
  predicateFailed(count: number): void
  deadLetter(subscription: Subscription, copy: PendingCopy, reason: DeadLetterReason): void
  /** Runs `subscription.pump()` soon, never inside the caller's stack. */
  schedule(subscription: Subscription): void
  /** The subscription has nothing queued, waiting or in flight. */
  idle(subscription: Subscription): void
  /** Adds a direct channel's outcomes to the bus's, type's and subscriber module's counters. */
  countDirect(counts: DirectCounts, subscriber: string): void
  /** The subscription, ended at shutdown, has every endpoint's word on the attempts it ended. */
  answeredAtShutdown(subscription: Subscription): void
}

type SubscriptionStats = CopyCounters & {
  routed: number
  slowHandlers: number
  predicateErrors: number
}

/**
 * A handler result that settles the attempt itself, without a promise and its two callbacks: the
 * hub's pending acks, one per remote delivery, call the attempt back directly. `slow`, when given,
 * says whether the handler ran past `slowHandlerThresholdMs` (an endpoint timed it where it ran);
 * when not, the attempt's own duration decides.
 */
export interface Settleable {
  settleInto(attempt: SettleableAttempt): void
}

/** How a settleable result ends its attempt. */
export interface SettleableAttempt {
  succeeded(slow?: boolean): void
  failed(error: unknown, slow?: boolean): void
  /**
   * The handler never ran and never will (its endpoint unsubscribed first); or, for an attempt
   * the bus ended as it shut down, whether it had run (`ran`, the endpoint's word).
   */
  withdrawn(ran?: boolean): void
}

function isSettleable(value: unknown): value is Settleable {
  return typeof (value as Partial<Settleable> | null)?.settleInto === 'function'
}

/** What a handler returned: told apart once, as reading `then` may run a getter, which may throw. */
type ResultKind = 'value' | 'settleable' | 'thenable'

/** @throws whatever reading the result's `settleInto` or `then` throws */
function kindOf(result: unknown): ResultKind {
  if (isSettleable(result)) return 'settleable'
  return isThenable(result) ? 'thenable' : 'value'
}

/** An attempt whose handler returned a promise: settles once, by result or by timeout. */
class AsyncAttempt {
  private done = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Its handler runs at an endpoint, which settles it (see Settleable). */
  private remote = false
  /** Ended at shutdown while its endpoint had it: waits for the endpoint's word on whether it ran. */
  private awaitingWord = false

  /** @param id the subscription's sequence number for it, under which it is kept until it settles */
  constructor(
    private readonly subscription: Subscription,
    readonly id: number,
    readonly copy: PendingCopy,
    private readonly startedAt: number,
  ) {}

  /**
   * Waits for `result` (called once the subscription holds this attempt: it may settle at once).
   * A broken thenable (its `then` throws) fails the attempt.
   */
  watch(result: unknown, kind: Exclude<ResultKind, 'value'>): void {
    // An infinite timeout means the handler's owner enforces one (the hub sweeps remote acks).
    if (Number.isFinite(this.subscription.timeoutMs))
      this.timer = setTimeout(() => this.timeOut(), this.subscription.timeoutMs)
    try {
      this.remote = kind === 'settleable'
      if (this.remote) (result as Settleable).settleInto(this)
      else
        (result as PromiseLike<unknown>).then(
          () => this.succeeded(),
          (error: unknown) => this.failed(error),
        )
    } catch (thrown) {
      this.settle(thrown, true, undefined)
    }
  }

  succeeded(slow?: boolean): void {
    if (this.tookWord(true)) return
    this.settle(undefined, false, slow)
  }

  failed(error: unknown, slow?: boolean): void {
    // A lost endpoint's deliveries fail too: it may have run them, as the hub counted.
    if (this.tookWord(true)) return
    this.settle(error ?? new Error('rejected without a reason'), true, slow)
  }

  withdrawn(ran = false): void {
    if (this.tookWord(ran)) return
    if (this.done) return
    this.done = true
    clearTimeout(this.timer)
    this.subscription.withdraw(this)
  }

  /** Stops caring about the result; the caller accounts for the copy. */
  abandon(): void {
    this.done = true
    clearTimeout(this.timer)
  }

  /**
   * After `abandon` at shutdown: one run at an endpoint may have waited there unstarted, so it
   * waits for the endpoint's word on whether it ran (true returned) and its copy counts only the
   * attempts that ran, as in process. The caller accounts for the others at once.
   */
  awaitWord(): boolean {
    this.awaitingWord = this.remote
    return this.awaitingWord
  }

  /** The endpoint's word on an attempt ended at shutdown; false if none was awaited. */
  private tookWord(ran: boolean): boolean {
    if (!this.awaitingWord) return false
    this.awaitingWord = false
    this.subscription.endedAtShutdown(this, ran)
    return true
  }

  private timeOut(): void {
    if (this.done) return
    this.done = true
    const elapsedMs = Math.round(monotonicMs() - this.startedAt)
    this.subscription.finishAsync(
      this,
      this.startedAt,
      EventBusError.of('DeliveryTimeout', { elapsedMs }),
      true,
    )
  }

  private settle(error: unknown, failed: boolean, slow: boolean | undefined): void {
    if (this.done) return
    this.done = true
    clearTimeout(this.timer)
    this.subscription.finishAsync(this, this.startedAt, failed ? error : undefined, false, slow)
  }
}

export class Subscription {
  readonly stats: SubscriptionStats = { routed: 0, ...newCopyCounters(), slowHandlers: 0, predicateErrors: 0 }
  readonly latency = new LatencyHistogram()
  private readonly recentLatency: IntervalLatency
  /**
   * Attempt timeout: the mode's own (Reliable) bounded by the bus's `deliveryTimeoutMs`; Infinity for
   * remote subscriptions, whose endpoint times the handler while the hub sweeps overdue acks.
   */
  readonly timeoutMs: number
  inFlight = 0
  /** Set while a pump is scheduled (owned by the bus's scheduler). */
  scheduled = false
  /** While parked, nothing is delivered; the queue keeps filling up to its bound. */
  parked = false
  closed = false

  private readonly queue: PriorityQueue | LatestOnlyQueue
  private readonly maxInFlight: number
  private readonly isReliable: boolean
  private readonly moduleCounters: Counters
  /** Attempts waiting for their handler's result, by sequence number. */
  private readonly asyncAttempts = new InFlight<AsyncAttempt>()
  private nextAttemptId = 1
  private readonly retryTimers = new Map<ReturnType<typeof setTimeout>, PendingCopy>()
  private closeReason: DeadLetterReason = DeadLetterReason.Unsubscribed
  /** Attempts ended at shutdown that wait for their endpoint's word on whether they ran. */
  private readonly awaitingWord = new Set<AsyncAttempt>()

  constructor(
    readonly id: string,
    readonly module: string,
    readonly filter: CompiledFilter,
    readonly mode: DeliveryMode,
    private handler: MessageHandler,
    private readonly context: DeliveryContext,
    limits: { maxInFlight?: number; timeoutMs?: number; endedByBus?: () => void } = {},
    /** What the subscription is for, in its subscriber's words (`subscribe`'s `options.label`). */
    readonly label?: string,
  ) {
    this.endedByBusHandler = limits.endedByBus
    const { config } = context
    this.isReliable = mode.kind === 'Reliable'
    this.timeoutMs =
      limits.timeoutMs ??
      Math.min(config.deliveryTimeoutMs, (mode.kind === 'Reliable' && mode.timeoutMs) || Infinity)
    this.maxInFlight = mode.kind === 'LatestOnly' ? 1 : (limits.maxInFlight ?? config.workers)
    this.queue = mode.kind === 'LatestOnly' ? new LatestOnlyQueue() : new PriorityQueue()
    this.moduleCounters = context.countersForModule(module)
    this.recentLatency = new IntervalLatency(config.metricsIntervalMs, monotonicMs())
  }

  /**
   * For a remote subscription: tells the hub's attachment holding it that the bus ended it (see
   * RemoteSubscriptionOptions).
   */
  get endedByBus(): (() => void) | undefined {
    return this.endedByBusHandler
  }

  private endedByBusHandler: (() => void) | undefined

  /** Pending copies plus copies waiting out a retry backoff (not those in flight). */
  get queueDepth(): number {
    return this.queue.size + this.retryTimers.size
  }

  get isIdle(): boolean {
    return this.inFlight === 0 && this.queueDepth === 0
  }

  /** Whether one more copy would overflow a Reliable subscription (publish is then refused). */
  get refusesMore(): boolean {
    return this.isReliable && this.queueDepth >= this.context.config.maxQueueSize
  }

  /** Runs the predicate, if any; a throwing predicate counts as no match and is counted. */
  acceptsByPredicate(message: Envelope): boolean {
    const predicate = this.filter.predicate
    if (predicate === undefined) return true
    try {
      return predicate(message) === true
    } catch {
      this.countPredicateErrors(1)
      return false
    }
  }

  /** Counts predicate errors: this one's, or those an endpoint running the predicate reported. */
  countPredicateErrors(count: number): void {
    this.stats.predicateErrors = addCount(this.stats.predicateErrors, count)
    this.context.predicateFailed(count)
  }

  /**
   * Takes one routed copy; Reliable capacity was checked by the caller. A hand-back from a direct
   * channel goes on from the attempts that count there (`prior`).
   */
  enqueue(message: Envelope, publishedAt: number, prior?: PriorAttempts): void {
    this.stats.routed++
    const copy: PendingCopy =
      prior === undefined
        ? { message, publishedAt, attempts: 0 }
        : {
            message,
            publishedAt,
            attempts: prior.attempts,
            firstFailedAt: prior.firstFailedAt,
            lastError: prior.error,
          }
    const max = this.context.config.maxQueueSize
    if (this.queue instanceof LatestOnlyQueue) {
      if (this.queue.size >= max && !this.queue.holds(message)) {
        this.drop(message)
        return
      }
      const displaced = this.queue.push(copy)
      if (displaced !== undefined) this.count(displaced.message, 'coalesced')
    } else {
      if (!this.isReliable && this.queueDepth >= max) {
        this.drop(message)
        return
      }
      this.queue.push(copy)
    }
    this.context.schedule(this)
  }

  /** Delivers while there is work and a free slot. */
  pump(): void {
    // One clock reading per delivery: each handler starts when the previous one ended.
    let clock = monotonicMs()
    while (!this.parked && !this.closed && this.inFlight < this.maxInFlight) {
      const copy = this.queue.shift()
      if (copy === undefined) break
      clock = this.invoke(copy, clock)
    }
    if (this.isIdle) this.context.idle(this)
  }

  /** Called by an async attempt once it settles or times out. */
  finishAsync(
    attempt: AsyncAttempt,
    startedAt: number,
    error: unknown,
    timedOut: boolean,
    slow?: boolean,
  ): void {
    this.asyncAttempts.take(attempt.id)
    if (error === undefined) this.succeed(attempt.copy, startedAt, slow)
    else this.fail(attempt.copy, error, startedAt, timedOut, slow)
    // A frame of acks settles many attempts at once: one pump after them, not one each.
    this.context.schedule(this)
  }

  /**
   * An attempt whose handler never ran and never will: its endpoint unsubscribed first. The copy
   * ends as one the subscription still held when it closed (dead-lettered `Unsubscribed`, or
   * dropped), with no failed attempt counted.
   */
  withdraw(attempt: AsyncAttempt): void {
    this.asyncAttempts.take(attempt.id)
    this.inFlight--
    attempt.copy.attempts--
    this.giveUp(attempt.copy, DeadLetterReason.Unsubscribed)
    this.context.schedule(this)
  }

  /**
   * Stops delivering while the endpoint behind this subscription is away. Attempts in flight are
   * abandoned and their copies put back first in line, to be delivered again on resume.
   */
  park(): void {
    this.parked = true
    const unacknowledged = this.asyncAttempts.values().reverse()
    this.asyncAttempts.clear()
    for (const attempt of unacknowledged) {
      attempt.abandon()
      this.inFlight--
      this.requeueFirst(attempt.copy)
    }
  }

  /**
   * Delivers again, now through `handler`; an endpoint's new attachment that takes the
   * subscription back gives its own `endedByBus` too, as it is the one to tell.
   */
  resume(handler: MessageHandler, endedByBus = this.endedByBusHandler): void {
    this.handler = handler
    this.endedByBusHandler = endedByBus
    this.parked = false
    this.context.schedule(this)
  }

  /**
   * Ends the subscription: nothing more is delivered; what it still holds is dead-lettered
   * (Reliable) with `reason` or counted as dropped. In-flight attempts may still settle and count,
   * unless `abandonInFlight` (shutdown, a lost endpoint), which accounts for them now and ignores
   * late results; with `awaitEndpointWord` too (shutdown), those run at a live endpoint are
   * accounted once it says whether they ran (see `endedAtShutdown`).
   */
  close(reason: DeadLetterReason, abandonInFlight: boolean, awaitEndpointWord = false): void {
    this.closed = true
    this.closeReason = reason
    for (const [timer, copy] of this.retryTimers) {
      clearTimeout(timer)
      this.giveUp(copy, reason)
    }
    this.retryTimers.clear()
    for (const copy of this.queue.drain()) this.giveUp(copy, reason)
    if (abandonInFlight) {
      for (const attempt of this.asyncAttempts.values()) {
        attempt.abandon()
        this.inFlight--
        if (awaitEndpointWord && attempt.awaitWord()) this.awaitingWord.add(attempt)
        else this.giveUp(attempt.copy, reason)
      }
      this.asyncAttempts.clear()
    }
  }

  /** Whether attempts ended at shutdown still wait for their endpoint's word. */
  get awaitsWord(): boolean {
    return this.awaitingWord.size > 0
  }

  /**
   * An attempt ended at shutdown, now that its endpoint said whether it ran: its copy ends as one
   * the subscription held, counting only the attempts that ran.
   */
  endedAtShutdown(attempt: AsyncAttempt, ran: boolean): void {
    if (!this.awaitingWord.delete(attempt)) return
    if (!ran) attempt.copy.attempts--
    this.giveUp(attempt.copy, this.closeReason)
    if (this.awaitingWord.size === 0) this.context.answeredAtShutdown(this)
  }

  /** No word came in time: what still waits ends counting the attempt sent, which may have run. */
  stopAwaitingWord(): void {
    for (const attempt of this.awaitingWord) this.giveUp(attempt.copy, this.closeReason)
    this.awaitingWord.clear()
  }

  /**
   * Counts what a direct channel did for this subscription (reported by its producer): the same
   * counters, latency and throughput as deliveries made here. Copies handed back to the hub are
   * taken off `routed`, since queueing them here counts them again.
   */
  recordDirect(counts: DirectCounts): void {
    this.stats.routed = addCount(this.stats.routed, counts.routed) - counts.handedBack
    for (const name of DIRECT_OUTCOMES) this.stats[name] = addCount(this.stats[name], counts[name])
    this.stats.slowHandlers = addCount(this.stats.slowHandlers, counts.slowHandlers)
    this.context.countDirect(counts, this.module)
  }

  /** The latencies of deliveries made over a direct channel, as its producer tallied them. */
  recordLatency({ us, n, sumUs }: Pick<LatencyTallyReport, 'us' | 'n' | 'sumUs'>): void {
    this.latency.recordCounted(us, n, sumUs)
  }

  /** The subscription's metrics read at `now` (monotonic ms), for `bus.metrics()`. */
  snapshot(now: number): SubscriptionMetrics {
    return {
      id: this.id,
      module: this.module,
      mode: this.mode.kind,
      filter: this.filter.summary,
      ...(this.label === undefined ? {} : { label: this.label }),
      queueDepth: this.queueDepth,
      inFlight: this.inFlight,
      parked: this.parked,
      ...this.stats,
      latency: this.latency.summary(),
      recentLatency: this.recentLatency.since(this.latency, now),
    }
  }

  /**
   * The latency of the latest metrics interval at `now` (as `snapshot` gives it), or undefined if
   * no delivery was measured in it: the hub's points keep it for the subscriptions that delivered.
   */
  recentLatencyAt(now: number): LatencySummary | undefined {
    const summary = this.recentLatency.since(this.latency, now)
    return summary.count > 0 ? summary : undefined
  }

  /** Runs the handler once; returns the time the synchronous part ended. */
  private invoke(copy: PendingCopy, startedAt: number): number {
    this.inFlight++
    copy.attempts++
    let result: unknown
    let kind: ResultKind
    try {
      result = this.handler(copy.message)
      kind = kindOf(result)
    } catch (thrown) {
      this.fail(copy, thrown, startedAt, false)
      return monotonicMs()
    }
    if (kind === 'value') return this.succeed(copy, startedAt)
    const attempt = new AsyncAttempt(this, this.nextAttemptId++, copy, startedAt)
    this.asyncAttempts.add(attempt.id, attempt)
    attempt.watch(result, kind)
    return monotonicMs()
  }

  /**
   * Counts a successful delivery; returns the time it was counted.
   * @param slow whether the handler ran slow, if known; else measured from `startedAt`
   */
  private succeed(copy: PendingCopy, startedAt: number, slow?: boolean): number {
    this.inFlight--
    const now = monotonicMs()
    this.count(copy.message, 'delivered')
    const latencyMs = now - copy.publishedAt
    this.latency.record(latencyMs)
    if (slow ?? now - startedAt > this.context.config.slowHandlerThresholdMs) this.stats.slowHandlers++
    this.context.delivered(now, latencyMs)
    return now
  }

  /** @param slow as for `succeed` */
  private fail(
    copy: PendingCopy,
    error: unknown,
    startedAt: number,
    timedOut: boolean,
    slow?: boolean,
  ): void {
    this.inFlight--
    this.count(copy.message, 'failed')
    if (slow ?? monotonicMs() - startedAt > this.context.config.slowHandlerThresholdMs)
      this.stats.slowHandlers++
    copy.lastError = failureText(error)
    copy.firstFailedAt ??= Date.now()
    if (!this.isReliable) this.drop(copy.message)
    else if (this.closed) this.giveUp(copy, this.closeReason)
    else if (copy.attempts <= this.context.config.maxRetryAttempts) this.retryLater(copy)
    else {
      // A remote handler's timeout arrives as a nack carrying DeliveryTimeout.
      const timeout = timedOut || isEventBusError(error, 'DeliveryTimeout')
      this.giveUp(copy, timeout ? DeadLetterReason.DeliveryTimeout : DeadLetterReason.MaxRetriesExceeded)
    }
  }

  private retryLater(copy: PendingCopy): void {
    this.count(copy.message, 'retried')
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer)
      this.requeueFirst(copy)
      this.context.schedule(this)
    }, this.backoffMs(copy.attempts))
    this.retryTimers.set(timer, copy)
  }

  private requeueFirst(copy: PendingCopy): void {
    // Only Reliable subscriptions retry or park, and they always use a PriorityQueue.
    if (this.queue instanceof PriorityQueue) this.queue.pushFront(copy)
    else this.queue.push(copy)
  }

  /** Exponential backoff after the n-th failed attempt, with ± jitter, capped at `retry.maxMs`. */
  private backoffMs(failedAttempts: number): number {
    const { initialMs, maxMs, multiplier, jitter } = this.context.config.retry
    const base = Math.min(maxMs, initialMs * multiplier ** (failedAttempts - 1))
    return Math.min(maxMs, Math.max(0, base * (1 + jitter * (2 * Math.random() - 1))))
  }

  /** A copy that will not be delivered: dead-lettered if Reliable, else dropped. */
  private giveUp(copy: PendingCopy, reason: DeadLetterReason): void {
    if (!this.isReliable) {
      this.drop(copy.message)
      return
    }
    this.count(copy.message, 'deadLettered')
    this.context.deadLetter(this, copy, reason)
  }

  private drop(message: Envelope): void {
    this.count(message, 'dropped')
  }

  /** Adds one to a counter of this subscription, its module, the message's type and the bus. */
  private count(message: Envelope, counter: keyof CopyCounters): void {
    this.stats[counter]++
    this.context.totals[counter]++
    this.context.countersForType(message.payload.type)[counter]++
    this.moduleCounters[counter]++
  }
}
