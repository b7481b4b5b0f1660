/**
 * An endpoint's subscriptions and the handlers they run: deliveries from the hub or a direct
 * channel wait per subscription, in priority order, for one of the endpoint's `workers` handler
 * slots; each handler's outcome (timed, as the bus times it in process) goes back over the link the
 * delivery came by.
 */
import type { Acknowledger, Delivery } from './acknowledger.js'
import { EventBusError } from './errors.js'
import { freezeEnvelope } from './frozen-envelope.js'
import type { Envelope } from './message.js'
import type { PredicateErrors } from './predicate-errors.js'
import { PriorityFifo } from './priority-fifo.js'
import { isThenable } from './thenable.js'
import type { HubFrame } from './wire.js'

/** A subscription's handler, as the endpoint's user gave it. */
export type ClientHandler<M> = (message: M) => unknown

/**
 * What a handler may resolve with to give up its handler slot before its outcome is known: the
 * delivery settles as `outcome` settles (within its timeout), and the next delivery runs meanwhile.
 * `respond` resolves with one once its answer is computed, for the reply's way to the hub: that
 * wait runs none of the endpoint's code, and holding a slot for it capped a responder at `workers`
 * replies a round trip.
 */
export class SettledBy {
  constructor(readonly outcome: PromiseLike<unknown>) {}
}

/** What a subscription is, as the hub's answer to `subscribe` made it live. */
export interface SubscriptionTerms {
  readonly handler: ClientHandler<Envelope>
  readonly predicate: ((message: Envelope) => boolean) | undefined
  readonly reliable: boolean
}

interface LocalSubscription extends SubscriptionTerms {
  /**
   * Deliveries past the endpoint's `workers` handlers at once (the hub and a direct channel send a
   * window's worth), highest priority first.
   */
  readonly waiting: PriorityFifo<Delivery>
  /** Deliveries whose handler returned a promise that has not settled yet. */
  readonly running: Set<Delivery>
  /** How many of `running` have handed their slot back ({@link SettledBy}). */
  handedBack: number
  /**
   * Set when the bus ended the subscription (its shutdown): what its handlers still run is dead-
   * lettered there, as in process, so their late results are not reported as handled.
   */
  abandoned: boolean
}

/** Direct deliveries to a subscription this endpoint has not heard of yet (its answer is on its way). */
export const MAX_EARLY_DELIVERIES = 65_536
/** Unsubscribed subscriptions an endpoint remembers, to end deliveries still on their way to them. */
export const MAX_REMEMBERED_UNSUBSCRIBED = 1024

/** Whether every message of a frame has the same priority (whatever the messages are). */
function isOnePriority(messages: readonly unknown[]): boolean {
  const first = (messages[0] as Partial<Envelope> | null | undefined)?.priority
  for (let index = 1; index < messages.length; index++) {
    if ((messages[index] as Partial<Envelope> | null | undefined)?.priority !== first) return false
  }
  return true
}

export class LocalSubscriptions {
  private readonly subscriptions = new Map<string, LocalSubscription>()
  /**
   * Subscriptions unsubscribed here and whether each was Reliable (the latest 1,024): deliveries
   * for them still on their way are withdrawn as the subscription would have ended them.
   */
  private readonly unsubscribed = new Map<string, boolean>()
  private workers = 1
  /** The bus's slow-handler threshold (ms), from the welcome: handlers running longer are slow. */
  private slowMs = Number.POSITIVE_INFINITY
  /**
   * When the handler about to run may have started (ms): read before a run of deliveries (a frame,
   * a subscribe answer releasing held ones), then as each handler returns or settles, so each
   * handler is timed with one reading, as the bus does in process. `Date.now()`: a threshold in
   * milliseconds needs no finer clock, and reading `performance.now()` per delivery cost a direct
   * route ~12 % more CPU per message in an interleaved A/B, about twice this one's cost. A step of
   * the wall clock can misjudge the handlers running across it: this counts slow handlers, it
   * times nothing out (timeouts are timers).
   */
  private clock = 0
  private pendingSubscribes = 0
  private early = new Map<string, Delivery[]>()
  private earlyCount = 0

  constructor(
    /** Where deliveries from the hub itself are answered (a direct channel has its own). */
    private readonly hubAcks: Acknowledger,
    private readonly predicateErrors: PredicateErrors,
  ) {}

  /** The bus's terms from the hub's welcome: handlers at once per subscription, slow threshold. */
  configure(workers: number, slowMs: number | undefined): void {
    this.workers = workers
    this.slowMs = slowMs ?? Number.POSITIVE_INFINITY
  }

  /**
   * A subscribe is on its way to the hub: a direct channel, which can outrun the hub's answer, has
   * its deliveries to a subscription not known here yet held until then. Returns what to call once
   * the request settled, either way.
   */
  subscribing(): () => void {
    this.pendingSubscribes++
    return () => {
      this.pendingSubscribes--
      if (this.pendingSubscribes === 0) this.releaseEarly()
    }
  }

  /** The hub answered a subscribe with `id`: it is live, and runs what was held for it. */
  add(id: string, terms: SubscriptionTerms): void {
    this.subscriptions.set(id, {
      ...terms,
      waiting: new PriorityFifo(),
      running: new Set(),
      handedBack: 0,
      abandoned: false,
    })
    const early = this.early.get(id)
    if (early === undefined) return
    this.early.delete(id)
    this.earlyCount -= early.length
    for (const delivery of early) this.admit(delivery)
    this.readClock()
    this.runWaitingOf(id)
  }

  /** Whether subscription `sid` is (or, unsubscribed lately, was) Reliable; false if unknown here. */
  isReliable(sid: string): boolean {
    return (this.subscriptions.get(sid)?.reliable ?? this.unsubscribed.get(sid)) === true
  }

  /**
   * Stops delivery to a subscription at once, as `unsubscribe` does in process: handlers running
   * finish, deliveries waiting never run (each answered `gone`, as are any still on their way).
   */
  drop(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) return
    this.subscriptions.delete(subscriptionId)
    this.unsubscribed.set(subscriptionId, subscription.reliable)
    if (this.unsubscribed.size > MAX_REMEMBERED_UNSUBSCRIBED)
      this.unsubscribed.delete(this.unsubscribed.keys().next().value as string)
    const waiting: Delivery[] = []
    subscription.waiting.drain(waiting)
    for (const delivery of waiting) delivery.via.gone(delivery)
  }

  /**
   * The bus ended the subscription (its shutdown), as it ends one in process: nothing more runs,
   * and what its handlers still run is given up now (answered `gone`), their results ignored.
   */
  abandon(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) return
    this.drop(subscriptionId)
    subscription.abandoned = true
    for (const delivery of subscription.running)
      delivery.via.gone(delivery, 'Shutdown: the bus ended the subscription', true)
  }

  /**
   * The connection to the hub ended: every subscription ends, and what waits from the hub never
   * runs, since its outcome could no longer be reported and the hub redelivers (or dead-letters)
   * every delivery it sent. Running it would run it twice. A direct channel's deliveries still
   * run: should the hub be gone too, their producer could hand nothing back, and no one else would
   * deliver them.
   */
  endAll(): void {
    for (const subscription of this.subscriptions.values()) {
      const waiting: Delivery[] = []
      subscription.waiting.drain(waiting)
      for (const delivery of waiting)
        if (delivery.via !== this.hubAcks) subscription.waiting.push(delivery, delivery.message.priority)
    }
    this.subscriptions.clear()
  }

  /** Hands each delivery of a `dlv` or `dlvs` frame to its subscription; acks go back `via`. */
  deliverFrame(frame: Extract<HubFrame, { t: 'dlv' | 'dlvs' }>, via: Acknowledger): void {
    const { sid, timeoutMs } = frame
    const messages = frame.t === 'dlv' ? [frame.msg] : frame.msgs
    const again = frame.t === 'dlv' && frame.again === true
    // A frame's deliveries run highest priority first, as in the bus (the hub sends in priority
    // order, a direct channel in publish order). All of one priority, arrival order is that order:
    // each runs as it comes while a handler slot is free, and is settled before the next arrives.
    const oneByOne = isOnePriority(messages)
    this.readClock()
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Envelope
      const problem = via.screen(message)
      if (problem !== undefined) {
        via.nack(frame.id + i, problem, false)
        continue
      }
      freezeEnvelope(message)
      const delivery: Delivery = { id: frame.id + i, subscriptionId: sid, message, timeoutMs, again, via }
      via.arrived(delivery)
      this.admit(delivery)
      if (oneByOne) this.runWaitingOf(sid)
    }
    if (!oneByOne) this.runWaitingOf(sid)
  }

  /** Puts `delivery` in line at its subscription (or holds it for one not answered yet, or settles it). */
  private admit(delivery: Delivery): void {
    const { subscriptionId } = delivery
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) {
      // A direct channel can outrun the hub's answer to a subscribe: hold it until the answer
      // (unless it is for a subscription dropped here, which no answer will name).
      if (
        delivery.via !== this.hubAcks &&
        this.pendingSubscribes > 0 &&
        !this.unsubscribed.has(subscriptionId) &&
        this.earlyCount < MAX_EARLY_DELIVERIES
      ) {
        const held = this.early.get(subscriptionId) ?? []
        held.push(delivery)
        this.early.set(subscriptionId, held)
        this.earlyCount++
        return
      }
      // Unsubscribed while this was on its way: nothing here will handle it.
      delivery.via.gone(delivery)
      return
    }
    subscription.waiting.push(delivery, delivery.message.priority)
  }

  private runWaitingOf(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription !== undefined) this.runWaiting(subscription)
  }

  /**
   * Runs waiting deliveries while a handler slot is free. A handler that settles at once frees its
   * slot again, so one freed slot may run many: taking only one would leave the rest waiting for
   * the next slow handler to finish, for good if none comes.
   */
  private runWaiting(subscription: LocalSubscription): void {
    while (subscription.running.size - subscription.handedBack < this.workers) {
      const next = subscription.waiting.shift()
      if (next === undefined) return
      this.run(subscription, next)
    }
  }

  /**
   * Runs the subscription's predicate, if any, as the bus does: only `true` is a match, and one
   * that throws is no match, counted (the hub is told).
   */
  private accepts({ predicate }: LocalSubscription, delivery: Delivery): boolean {
    if (predicate === undefined) return true
    try {
      return predicate(delivery.message) === true
    } catch {
      this.predicateErrors.count(delivery.subscriptionId)
      return false
    }
  }

  private run(subscription: LocalSubscription, delivery: Delivery): void {
    if (!this.accepts(subscription, delivery)) {
      // A message the predicate declines is acknowledged: it was delivered to this endpoint.
      delivery.via.handled(delivery)
      return
    }
    let result: unknown
    let thenable: boolean
    // Timed here, where the handler runs, as the bus times it: not from when the delivery arrived.
    const startedAt = this.clock
    try {
      result = subscription.handler(delivery.message)
      thenable = isThenable(result) // may run a `then` getter, which may throw
    } catch (error) {
      delivery.via.failed(delivery, error, false, subscription.reliable, this.ranSlow(startedAt))
      return
    }
    if (result instanceof SettledBy) {
      this.settleLater(subscription, delivery, startedAt, result.outcome, true)
      return
    }
    if (!thenable) {
      delivery.via.handled(delivery, this.ranSlow(startedAt))
      return
    }
    this.settleLater(subscription, delivery, startedAt, result as PromiseLike<unknown>, false)
  }

  /**
   * Settles `delivery` as `pending` settles, or as `DeliveryTimeout` once its timeout passes. Until
   * then it holds one of the subscription's handler slots, unless it was handed back at once or
   * `pending` resolves with a {@link SettledBy}.
   */
  private settleLater(
    subscription: LocalSubscription,
    delivery: Delivery,
    startedAt: number,
    pending: PromiseLike<unknown>,
    handedBackAtOnce: boolean,
  ): void {
    this.readClock()
    subscription.running.add(delivery)
    let settled = false
    let handedBack = false
    const finish = (error: unknown, timedOut: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      subscription.running.delete(delivery)
      if (handedBack) subscription.handedBack--
      if (subscription.abandoned) return // answered `gone` when the bus ended the subscription
      if (error === undefined) delivery.via.handled(delivery, this.ranSlow(startedAt))
      else delivery.via.failed(delivery, error, timedOut, subscription.reliable, this.ranSlow(startedAt))
      this.runWaiting(subscription)
    }
    const failed = (error: unknown) => finish(error ?? new Error('rejected without a reason'), false)
    const timer = setTimeout(
      () => finish(EventBusError.of('DeliveryTimeout', { elapsedMs: delivery.timeoutMs }), true),
      delivery.timeoutMs,
    )
    const resolved = (value: unknown) => {
      if (handedBack || !(value instanceof SettledBy) || settled) return finish(undefined, false)
      handedBack = true
      subscription.handedBack++
      this.runWaiting(subscription)
      value.outcome.then(resolved, failed)
    }
    if (handedBackAtOnce) {
      handedBack = true
      subscription.handedBack++
    }
    try {
      pending.then(resolved, failed)
    } catch (error) {
      finish(error, false) // a broken thenable: a failed attempt, as in the bus
    }
  }

  /**
   * Whether a handler started at `startedAt` has run past the bus's slow-handler threshold, now
   * that it returned or settled (the clock read then is when the next handler starts).
   */
  private ranSlow(startedAt: number): boolean {
    return this.readClock() - startedAt > this.slowMs
  }

  private readClock(): number {
    this.clock = Date.now()
    return this.clock
  }

  /**
   * Direct deliveries held for a subscribe answer that never named their subscription: nothing
   * here will handle them, so they are answered `gone`, as one that comes when no subscribe is
   * pending is (acknowledging them would count them delivered).
   */
  private releaseEarly(): void {
    for (const deliveries of this.early.values())
      for (const delivery of deliveries) delivery.via.gone(delivery)
    this.early = new Map()
    this.earlyCount = 0
  }
}
