/**
 * The producer's side of a direct channel: it delivers its own messages of the route's types
 * straight to the consumer's subscriptions (one hop), doing there what the hub would do for them:
 * a credit window, Reliable retries with the bus's backoff, dead letters handed to the hub, and
 * counters and the latency of every delivery reported to the hub so the bus's accounting stays
 * whole. (The consumer has the hub hold a Reliable delivery that failed until a retry succeeds, so
 * the producer's death does not take it along.) When the channel ends, every unacknowledged
 * Reliable copy is handed back to the hub for its subscription.
 */
import { queueDelivery } from './batching.js'
import { monotonicMs } from './clock.js'
import { EventBusError } from './errors.js'
import { InFlight } from './in-flight.js'
import { LatencyTally, microsOf } from './latency-tally.js'
import type { Link } from './link.js'
import type { Envelope } from './message.js'
import type { MessageValidator } from './message-validator.js'
import { nestedValue } from './nested-map.js'
import { timeoutAfterInput, unrefTimer } from './peer-timers.js'
import { PriorityFifo } from './priority-fifo.js'
import {
  DIRECT_COUNT_NAMES,
  DIRECT_TAIL_SAMPLE,
  type DirectCounts,
  type DirectLimits,
  type DirectReport,
  type DirectTarget,
  type DirectTerms,
  type EndpointFrame,
  type HubFrame,
  type PublishCount,
  zeroDirectCounts,
} from './wire.js'

/** How often the producer reports its counters to the hub (ms). */
export const DIRECT_REPORT_MS = 250
/** How long a withdrawn channel waits for acks of what is in flight before handing it back. */
export const DRAIN_MS = 1000
/** What one (subscription, type) pair counted so far, and how much of it was reported. */
interface Tally {
  readonly total: DirectCounts
  readonly reported: DirectCounts
  /** Latencies of the subscription's deliveries (of every type) since the last report. */
  readonly latency: LatencyTally
}

/** A target of a routed type, with the tally its copies of that type count in. */
interface TargetOfType {
  readonly target: DirectTarget
  readonly tally: Tally
}

/** Everything `publish` needs to know of one type, found with one lookup. */
interface RoutedType {
  readonly targets: readonly TargetOfType[]
  /** Other subscribers want the type: the hub gets a copy. */
  readonly shared: boolean
  /** Messages of the type published over the channel only (cumulative, and how many were reported). */
  readonly published: { total: number; reported: number }
}

/** Terms as the hot path reads them. */
interface PreparedTerms {
  readonly seq: number
  /** Filled in as types are first published when the terms name no target for them. */
  readonly types: Map<string, RoutedType>
}

interface Copy extends TargetOfType {
  /**
   * A BestEffort copy lets go of its message once sent (it is never sent again), so in-flight
   * copies do not keep messages alive; a Reliable one keeps it for retries and hand-backs.
   */
  message: Envelope | undefined
  readonly publishedAt: number
  attempts: number
  firstFailedAt: number
  lastError: string
  /** Resolves the publish once this copy (its message's last one waiting) has left the producer. */
  onLeft?: () => void
}

/**
 * A copy in flight: a Reliable copy's record, or for a BestEffort copy only its target (shared by all
 * such copies: what it settles is counted in the target's tally, nothing more; its send time waits
 * beside it in the in-flight list). Records living one round trip are what the young generation
 * would otherwise promote by the thousand, and the old generation then collects at length: that
 * made runs at full speed either fast or half as fast.
 */
type Sent = Copy | TargetOfType

const isCopy = (sent: Sent): sent is Copy => 'publishedAt' in sent

/** Settles the publish waiting for `copy` to leave, once: a copy sent may be handed back later. */
function hasLeft(copy: Copy): void {
  const onLeft = copy.onLeft
  copy.onLeft = undefined
  onLeft?.()
}

/** Whether `target` takes `message`: one whose minimum priority the message misses does not (the hub's rule). */
function takes(target: DirectTarget, message: Envelope): boolean {
  return target.minPriority === undefined || message.priority >= target.minPriority
}

function newCopy({ target, tally }: TargetOfType, message: Envelope, publishedAt: number): Copy {
  return { target, tally, message, publishedAt, attempts: 0, firstFailedAt: 0, lastError: '' }
}

/** What the producer needs from the endpoint client around it. */
export interface DirectProducerHost {
  /** Sends a frame to the hub over the endpoint's own link. */
  toHub(frame: EndpointFrame): void
  /** Publishes a copy through the hub (shared types); resolves or rejects like a publish. */
  publishCopy(message: Envelope, channelId: string, seq: number): Promise<string>
  /**
   * `publishCopy` for a request's message, which the hub counts (see the `pub` frame's `count`):
   * resolves with 0 when none of the subscriptions it reaches (of `count.module` alone, when given)
   * took it, else with `undefined`.
   */
  requestCopy(
    message: Envelope,
    channelId: string,
    seq: number,
    count: PublishCount,
  ): Promise<number | undefined>
  /** The channel takes no new messages (called again once it is closed: `isOpen` is then false). */
  ended(producer: DirectProducer): void
}

type CountName = (typeof DIRECT_COUNT_NAMES)[number]

export class DirectProducer {
  private terms: PreparedTerms
  private readonly inFlight = new InFlight<Sent>()
  private readonly waiting = new PriorityFifo<Copy>()
  private readonly retrying = new Map<ReturnType<typeof setTimeout>, Copy>()
  private nextDeliveryId = 1
  private open = true
  /**
   * Until the hub says go, copies wait here: the hub first lets the consumer handle what this
   * producer published through it before the channel, so the channel does not overtake it.
   */
  private started = false
  /** While a withdrawn channel waits for its last acks: cancels the wait. */
  private draining: (() => void) | undefined
  private readonly reportTimer: ReturnType<typeof setInterval>
  /** Published-over-the-channel counters by type; they outlive terms. */
  private readonly published = new Map<string, RoutedType['published']>()
  /** Cumulative tallies by subscription, then type; reports send what changed since the last. */
  private readonly tallies = new Map<string, Map<string, Tally>>()
  /** Publish-to-ack latencies of the deliveries since the last report, by subscription. */
  private readonly latency = new Map<string, LatencyTally>()
  /** Whether the hub streams its tail; then the first messages of each report period go with it. */
  private tailing = false
  private tail: NonNullable<DirectReport['tail']> = []
  private tailSampled = false

  constructor(
    readonly id: string,
    /** The consumer's module: whose subscriptions the targets are. */
    private readonly peer: string,
    private readonly link: Link<EndpointFrame, HubFrame>,
    terms: DirectTerms,
    private readonly limits: DirectLimits,
    private readonly validator: MessageValidator,
    private readonly host: DirectProducerHost,
  ) {
    this.terms = this.prepare(terms)
    this.reportTimer = setInterval(() => this.report(), DIRECT_REPORT_MS)
    unrefTimer(this.reportTimer)
    this.host.toHub({ t: 'rsync', id, seq: terms.seq })
  }

  get isOpen(): boolean {
    return this.open
  }

  /**
   * The hub withdrew the channel while both sides live: nothing new goes over it; what is in flight
   * may still be acknowledged for a moment (no needless redelivery), then the rest is handed back.
   */
  withdraw(reason: string): void {
    if (!this.open || this.draining !== undefined) return
    this.host.ended(this)
    const waiting = [...this.retrying.values()]
    this.takeWaiting(waiting)
    for (const timer of this.retrying.keys()) clearTimeout(timer)
    this.retrying.clear()
    for (const copy of waiting) this.handBack(copy)
    this.draining = timeoutAfterInput(DRAIN_MS, () => this.close(reason, false))
    if (this.inFlight.size === 0) this.close(reason, false)
  }

  /** The hub says the channel may carry messages: what waited goes first. */
  start(): void {
    this.started = true
    this.pump()
  }

  /** Starts or stops sampling for the hub's tail. */
  setTailing(on: boolean): void {
    this.tailing = on
    if (on) return
    this.tail = []
    this.tailSampled = false
  }

  /** Applies new terms from the hub and confirms them (the first ones are confirmed on creation). */
  applyTerms(terms: DirectTerms): void {
    this.terms = this.prepare(terms)
    this.host.toHub({ t: 'rsync', id: this.id, seq: terms.seq })
  }

  /**
   * Publishes `message` (a type of this route, from this endpoint): validated as the bus would,
   * delivered directly to every target it matches, and through the hub too when other
   * subscriptions want its type. Resolves once its copies are on their way (and the hub has taken
   * its copy, if it gets one): while the channel's window is full, or the route waits for the hub
   * path to drain before it starts, that waits too, so a producer that awaits its publishes is
   * paced by the consumer (credit-based flow control) instead of piling messages up in memory. A
   * copy through the hub that the hub refuses rejects the publish, though the direct copies still go.
   */
  publish(message: Envelope): Promise<string> {
    return this.publishCounting(message, undefined)
  }

  /**
   * `publish` for a request, resolving with how many subscriptions take it (those of `from` alone,
   * when given), so that a request nothing could answer is refused at once: counted here from the
   * route's terms when the consumer takes it or the hub gets no copy, else by the hub as it routes
   * its copy (`undefined` once some subscription took that).
   */
  publishRequest(message: Envelope, from: string | undefined): Promise<number | undefined> {
    const takers = this.takers(message, from)
    if (takers !== undefined) return this.publish(message).then(() => takers)
    return this.publishCounting(message, from === undefined ? {} : { module: from })
  }

  /** `publish`, the hub's copy counted when `count` is given (see `publishRequest`). */
  private publishCounting(message: Envelope, count: undefined): Promise<string>
  private publishCounting(message: Envelope, count: PublishCount): Promise<number | undefined>
  private publishCounting(message: Envelope, count: PublishCount | undefined): Promise<unknown> {
    const publishedAt = monotonicMs()
    let routed: RoutedType
    try {
      this.validator.validate(message)
      routed = this.routedType(message.payload.type)
      this.assertRoom(routed.targets)
    } catch (error) {
      return Promise.reject(error)
    }
    let lastWaiting: Copy | undefined
    let copies = 0
    for (const routedTo of routed.targets) {
      const { target, tally } = routedTo
      if (!takes(target, message)) continue
      copies++
      if (this.started && this.inFlight.size < this.limits.window) {
        tally.total.routed++
        if (target.reliable) this.send(newCopy(routedTo, message, publishedAt))
        else this.transmit(routedTo, message, publishedAt) // no record of its own: in flight as its target
      } else if (target.reliable || this.waiting.length < this.limits.maxQueueSize) {
        // Counted as routed once it leaves (or is handed back): one that dies here with this
        // producer was never accepted, and a report must not have counted it.
        lastWaiting = newCopy(routedTo, message, publishedAt)
        this.waiting.push(lastWaiting, message.priority)
      } else {
        tally.total.routed++
        tally.total.dropped++
      }
    }
    // A copy through the hub shows on the hub's tail by itself. The publish is accepted once the
    // hub took that copy and the direct copies have left: a copy still waiting here dies with this
    // producer, so a publish that resolved earlier could lose a Reliable message.
    if (routed.shared) {
      const throughHub: Promise<unknown> =
        count === undefined
          ? this.host.publishCopy(message, this.id, this.terms.seq)
          : this.host.requestCopy(message, this.id, this.terms.seq, count)
      if (lastWaiting === undefined) return throughHub
      // Answered as the hub answered its copy: the message's id, or what the hub counted.
      return Promise.all([throughHub, this.leaving(lastWaiting, message.id)]).then(([answer]) => answer)
    }
    if (this.tailing) this.sampleForTail(message, copies)
    const { published } = routed
    if (lastWaiting === undefined) {
      published.total++
      return Promise.resolve(message.id)
    }
    // Counted as published when accepted, as the bus counts a publish.
    return this.leaving(lastWaiting, message.id, () => {
      published.total++
    })
  }

  /**
   * How many targets a publish of `message` would reach now (only the consumer's, so none unless
   * `from` is the consumer or not given), or `undefined` when none would but the hub gets a copy,
   * whose takers the hub counts.
   */
  private takers(message: Envelope, from: string | undefined): number | undefined {
    const routed = this.routedType(message.payload.type)
    let takers = 0
    if (from === undefined || from === this.peer)
      for (const { target } of routed.targets) if (takes(target, message)) takers++
    return takers === 0 && routed.shared ? undefined : takers
  }

  /**
   * Resolves with `id` once `copy` (its message's last one waiting) has left the producer, after
   * calling `left` (at that moment: a report sent in between counts it).
   */
  private leaving(copy: Copy, id: string, left?: () => void): Promise<string> {
    return new Promise((resolve) => {
      copy.onLeft = () => {
        left?.()
        resolve(id)
      }
    })
  }

  /**
   * Takes every waiting copy into `into`. A BestEffort one is counted as routed, as it is dropped
   * here; a Reliable one goes to the hub, which routes it as if it had never come this way.
   */
  private takeWaiting(into: Sent[]): void {
    const from = into.length
    this.waiting.drain(into)
    for (let i = from; i < into.length; i++) {
      const copy = into[i] as Copy
      if (!copy.target.reliable) copy.tally.total.routed++
    }
  }

  /** Acks and nacks from the consumer. */
  receive(frame: EndpointFrame): void {
    if (frame.t === 'ack') {
      const now = monotonicMs()
      for (const id of frame.ids) this.delivered(id, now, false)
      if (frame.slow !== undefined) for (const id of frame.slow) this.delivered(id, now, true)
      if (this.draining !== undefined && this.inFlight.size === 0) this.close('withdrawn', false)
      else this.pump()
    } else if (frame.t === 'nack') {
      const sent = this.inFlight.take(frame.id)
      if (sent === undefined) return
      if (frame.gone !== true) this.failed(sent, frame.error, frame.timedOut, frame.slow === true)
      else if (this.draining !== undefined) this.handBack(sent, frame.ran === true)
      else this.withdrawn(sent, frame.error)
      if (this.draining !== undefined && this.inFlight.size === 0) this.close('withdrawn', false)
      else this.pump()
    }
  }

  /** Counts delivery `id` acknowledged at `now` (`slow`: its handler ran past the threshold). */
  private delivered(id: number, now: number, slow: boolean): void {
    const sent = this.inFlight.take(id)
    if (sent === undefined) return
    this.count(sent, 'delivered')
    if (slow) this.count(sent, 'slowHandlers')
    sent.tally.latency.record(microsOf(now - this.inFlight.takenAt))
  }

  /**
   * Ends the channel for `reason`: unacknowledged and waiting Reliable copies go back to the hub
   * for their subscriptions, BestEffort ones are counted as dropped; the final report follows.
   * `tellHub` is false when the hub withdrew the channel itself.
   */
  close(reason: string, tellHub: boolean): void {
    if (!this.open) return
    this.open = false
    clearInterval(this.reportTimer)
    this.draining?.()
    const unsettled: Sent[] = [...this.inFlight.values(), ...this.retrying.values()]
    this.takeWaiting(unsettled)
    for (const timer of this.retrying.keys()) clearTimeout(timer)
    this.inFlight.clear()
    this.retrying.clear()
    for (const copy of unsettled) this.handBack(copy)
    this.report(true)
    if (tellHub) this.host.toHub({ t: 'rdown', id: this.id, reason })
    this.link.close()
    this.host.ended(this)
  }

  /**
   * A Reliable copy goes back to the hub for its subscription; a BestEffort one is dropped.
   * `ranBeforeGone` is set when the consumer answered the copy's last attempt `gone` (its
   * subscription ended there): whether that attempt's handler had started, so whether it counts.
   */
  private handBack(sent: Sent, ranBeforeGone?: boolean): void {
    if (isCopy(sent)) hasLeft(sent)
    // Reliable copies always have their record.
    if (!isCopy(sent) || !sent.target.reliable) {
      this.drop(sent)
      return
    }
    const copy = sent
    const { lastError, firstFailedAt } = copy
    const attempts = ranBeforeGone === false ? copy.attempts - 1 : copy.attempts
    // One that failed, or whose last attempt ran, goes on from its attempts on the hub path, as a
    // retry does in the bus, and a dead letter of it counts them, as one at shutdown does in process.
    const counts = lastError !== '' || ranBeforeGone === true
    this.host.toHub({
      t: 'pub',
      rid: 0,
      msg: copy.message as Envelope,
      via: this.id,
      to: copy.target.sid,
      ...(copy.attempts === 0 ? { unsent: true as const } : {}),
      ...(counts
        ? { prior: { attempts, ...(lastError !== '' ? { error: lastError, firstFailedAt } : {}) } }
        : {}),
    })
  }

  /** Indexes the hub's terms by type, each target with its tally. */
  private prepare(terms: DirectTerms): PreparedTerms {
    const targets = new Map<string, TargetOfType[]>()
    for (const target of terms.targets) {
      for (const type of target.types) {
        const ofType = targets.get(type) ?? []
        ofType.push({ target, tally: this.tallyFor(target.sid, type) })
        targets.set(type, ofType)
      }
    }
    const types = new Map<string, RoutedType>()
    for (const type of new Set([...targets.keys(), ...terms.shared])) {
      types.set(type, {
        targets: targets.get(type) ?? [],
        shared: terms.shared.includes(type),
        published: this.publishedCounter(type),
      })
    }
    return { seq: terms.seq, types }
  }

  /** What the terms say of `type`; a type they do not name has no target and is not shared. */
  private routedType(type: string): RoutedType {
    let routed = this.terms.types.get(type)
    if (routed === undefined) {
      routed = { targets: [], shared: false, published: this.publishedCounter(type) }
      this.terms.types.set(type, routed)
    }
    return routed
  }

  private publishedCounter(type: string): RoutedType['published'] {
    let counter = this.published.get(type)
    if (counter === undefined) {
      counter = { total: 0, reported: 0 }
      this.published.set(type, counter)
    }
    return counter
  }

  /**
   * A Reliable target whose backlog is full refuses the publish, as the bus's QueueFull does, and
   * counts it (the bus counts the refusal against the first full subscription; here, the first
   * Reliable target).
   */
  private assertRoom(targets: readonly TargetOfType[]): void {
    const backlog = this.waiting.length + this.retrying.size
    if (backlog < this.limits.maxQueueSize) return
    const refusing = targets.find(({ target }) => target.reliable)
    if (refusing === undefined) return
    refusing.tally.total.queueFull++
    throw EventBusError.of('QueueFull', { currentSize: backlog, maxSize: this.limits.maxQueueSize })
  }

  private send(copy: Copy): void {
    copy.attempts++
    if (copy.attempts === 1) this.transmit(copy, copy.message as Envelope, copy.publishedAt)
    else this.retransmit(copy)
    if (!copy.target.reliable) copy.message = undefined
  }

  /**
   * Puts `message`, published at `publishedAt`, on the channel as the next delivery, in flight as
   * `sent` until it settles.
   */
  private transmit(sent: Sent, message: Envelope, publishedAt: number): void {
    const id = this.nextDeliveryId++
    this.inFlight.add(id, sent, publishedAt)
    sent.tally.total.sent++
    queueDelivery(this.link, true, sent.target.sid, id, message, sent.target.timeoutMs)
  }

  /**
   * Sends a Reliable copy that failed once more, marked as a retry: the consumer had the hub hold
   * its message when it first failed, and releases it once a retry succeeds. Retries are rare, so
   * they travel on their own.
   */
  private retransmit(copy: Copy): void {
    const id = this.nextDeliveryId++
    this.inFlight.add(id, copy, copy.publishedAt)
    const { sid, timeoutMs } = copy.target
    this.link.send({ t: 'dlv', sid, id, msg: copy.message as Envelope, timeoutMs, again: true })
  }

  /** Counts a BestEffort copy dropped, noting whether it had left over the channel first. */
  private drop(sent: Sent): void {
    this.count(sent, 'dropped')
    if (!isCopy(sent) || sent.attempts > 0) this.count(sent, 'sentDropped')
  }

  /** Sends waiting copies while the window has room. */
  private pump(): void {
    while (this.started && this.waiting.length > 0 && this.inFlight.size < this.limits.window) {
      const copy = this.waiting.shift() as Copy
      copy.tally.total.routed++
      this.send(copy)
      hasLeft(copy)
    }
  }

  /** Counts a failed attempt of `sent` (`slow`: its handler ran past the threshold) and retries it or gives up. */
  private failed(sent: Sent, error: string, timedOut: boolean, slow: boolean): void {
    this.count(sent, 'failed')
    if (slow) this.count(sent, 'slowHandlers')
    if (!isCopy(sent) || !sent.target.reliable) {
      this.drop(sent)
      return
    }
    const copy = sent
    copy.firstFailedAt ||= Date.now()
    copy.lastError = error
    if (copy.attempts <= this.limits.maxRetryAttempts) {
      this.count(copy, 'retried')
      // A withdrawn channel retries nothing: the hub path does, from the attempts made so far.
      if (this.draining !== undefined) {
        this.handBack(copy)
        return
      }
      const timer = setTimeout(() => {
        this.retrying.delete(timer)
        this.send(copy)
      }, this.backoffMs(copy.attempts))
      this.retrying.set(timer, copy)
      return
    }
    this.deadLetter(
      copy,
      timedOut || error.startsWith('DeliveryTimeout') ? 'DeliveryTimeout' : 'MaxRetriesExceeded',
      copy.attempts,
    )
  }

  /**
   * The consumer never ran `sent`: its subscription was unsubscribed there first. As a copy the
   * subscription still held when it closed in process: dead-lettered `Unsubscribed` (Reliable,
   * with the attempts that did run), or dropped; no failed attempt.
   */
  private withdrawn(sent: Sent, why: string): void {
    if (!isCopy(sent) || !sent.target.reliable) this.drop(sent)
    else {
      // An earlier attempt's error stays the last one, as in process; else the consumer's words.
      sent.lastError ||= why
      this.deadLetter(sent, 'Unsubscribed', sent.attempts - 1)
    }
  }

  private deadLetter(
    copy: Copy,
    reason: Extract<EndpointFrame, { t: 'rdead' }>['reason'],
    attempts: number,
  ): void {
    this.count(copy, 'deadLettered')
    this.host.toHub({
      t: 'rdead',
      id: this.id,
      sid: copy.target.sid,
      msg: copy.message as Envelope,
      reason,
      attempts,
      error: copy.lastError,
      firstFailedAt: copy.firstFailedAt || Date.now(),
    })
  }

  /** The bus's backoff: exponential from `initialMs`, ± jitter, capped at `maxMs`. */
  private backoffMs(failedAttempts: number): number {
    const { initialMs, maxMs, multiplier, jitter } = this.limits.retry
    const base = Math.min(maxMs, initialMs * multiplier ** (failedAttempts - 1))
    return Math.min(maxMs, Math.max(0, base * (1 + jitter * (2 * Math.random() - 1))))
  }

  private count(sent: Sent, name: CountName): void {
    sent.tally.total[name]++
  }

  private tallyFor(sid: string, type: string): Tally {
    return nestedValue(this.tallies, sid, type, () => ({
      total: zeroDirectCounts(sid, type),
      reported: zeroDirectCounts(sid, type),
      latency: this.latencyOf(sid),
    }))
  }

  /** What each tally gained since the previous report (only those that changed). */
  private countsSinceReport(): DirectCounts[] {
    const changes: DirectCounts[] = []
    for (const byType of this.tallies.values()) {
      for (const { total, reported } of byType.values()) {
        if (DIRECT_COUNT_NAMES.every((name) => total[name] === reported[name])) continue
        const change = { ...total }
        for (const name of DIRECT_COUNT_NAMES) {
          change[name] = total[name] - reported[name]
          reported[name] = total[name]
        }
        changes.push(change)
      }
    }
    return changes
  }

  private sampleForTail(message: Envelope, routedTo: number): void {
    if (this.tail.length < DIRECT_TAIL_SAMPLE) this.tail.push({ msg: message, routedTo })
    else this.tailSampled = true
  }

  private latencyOf(sid: string): LatencyTally {
    let tally = this.latency.get(sid)
    if (tally === undefined) {
      tally = new LatencyTally()
      this.latency.set(sid, tally)
    }
    return tally
  }

  /** The latencies tallied since the last report, as a report carries them; empties the tallies. */
  private latencyReport(): DirectReport['latency'] {
    const report: DirectReport['latency'] = []
    for (const [sid, tally] of this.latency) {
      if (tally.count === 0) continue
      const entry = { sid, us: [] as number[], n: [] as number[], sumUs: tally.sumMicros }
      tally.drain((micros, count) => {
        entry.us.push(micros)
        entry.n.push(count)
      })
      report.push(entry)
    }
    return report
  }

  /** Sends what was counted since the previous report, if anything was (the final one always goes). */
  private report(final = false): void {
    const queued = this.waiting.length + this.retrying.size
    const counts = this.countsSinceReport()
    const published: DirectReport['published'] = []
    for (const [type, counter] of this.published) {
      if (counter.total === counter.reported) continue
      published.push({ type, count: counter.total - counter.reported })
      counter.reported = counter.total
    }
    const quiet = counts.length === 0 && published.length === 0 && this.tail.length === 0
    if (!final && quiet && queued === 0 && this.inFlight.size === 0) return
    const report: DirectReport = {
      published,
      counts,
      latency: this.latencyReport(),
      queued,
      inFlight: this.inFlight.size,
      ...(this.tail.length > 0 ? { tail: this.tail, tailSampled: this.tailSampled } : {}),
      ...(final ? { final } : {}),
    }
    this.tail = []
    this.tailSampled = false
    this.host.toHub({ t: 'rstat', id: this.id, report })
  }
}
