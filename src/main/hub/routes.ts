/**
 * Direct routes: the hub brokers a MessagePort pair between a producer endpoint and a consumer
 * endpoint so a hot path takes one hop instead of two, while the hub stays in charge. It checks
 * both sides' permissions, tells the producer which of the consumer's subscriptions the channel
 * serves (its terms) and which types other subscribers also want (those still come through the
 * hub), counts what the producer reports, takes its dead letters and hand-backs, and withdraws the
 * channel when a side goes away or the route is revoked, setting it up again when both are back.
 */
import { z } from 'zod'
import { moduleIdSchema } from '../../shared/catalog.js'
import { monotonicMs } from '../../shared/clock.js'
import { DeadLetterReason } from '../../shared/dead-letter.js'
import { EventBusError } from '../../shared/errors.js'
import { slotWidth } from '../../shared/latency-tally.js'
import type { Envelope } from '../../shared/message.js'
import type { RouteMetrics } from '../../shared/metrics-snapshot.js'
import { timeoutAfterInput } from '../../shared/peer-timers.js'
import {
  type ChannelOutcomes,
  type DirectCounts,
  type DirectLimits,
  type DirectReport,
  type DirectTarget,
  type DirectTerms,
  type EndpointFrame,
  type HubFrame,
  type Permissions,
  type PriorAttempts,
  zeroDirectCounts,
} from '../../shared/wire.js'
import type { EventBus } from '../bus/index.js'
import type { BusInternals } from '../bus/internal.js'
import { addCount, WindowedRate } from '../bus/metrics.js'
import type { Subscription } from '../bus/subscription.js'
import { mayPublish, mayReceive } from './permissions.js'
import { RecentIds } from './recent-ids.js'
import { addCounts, unreportedCounts } from './reconcile.js'

/** A route the main process declares: `producer`'s messages of `types` go straight to `consumer`. */
export const routeSpecSchema = z
  .object({
    producer: moduleIdSchema,
    consumer: moduleIdSchema,
    types: z.array(z.string().min(1).max(128)).min(1).max(64),
    /** Which of the consumer's subscriptions the route serves; both kinds when absent (never LatestOnly). */
    mode: z.enum(['BestEffort', 'Reliable']).optional(),
  })
  .strict()
export type RouteSpec = z.infer<typeof routeSpecSchema>

/** A declared route, as the main process sees it. */
export interface DirectRoute extends Readonly<RouteSpec> {
  readonly id: string
  readonly state: RouteMetrics['state']
  /** Why it is not active, when it is not. */
  readonly reason: string | undefined
  /** Withdraws the route for good: traffic goes through the hub, nothing unacknowledged is lost. */
  revoke(reason?: string): void
}

/** A pair of entangled ports; each end is transferred to one endpoint. */
export interface PortPair {
  port1: unknown
  port2: unknown
}

/** What the route table needs from an attached endpoint's session. */
export interface RouteEndpoint {
  readonly module: string
  readonly permissions: Permissions
  /** Greeted, open, and on a transport that carries ports. */
  readonly canRoute: boolean
  send(frame: HubFrame): void
  sendWithPort(frame: HubFrame, port: unknown): void
  /** The endpoint's live hub subscriptions with the handler timeout it enforces. */
  remoteSubscriptions(): Iterable<{ subscription: Subscription; handlerTimeoutMs: number }>
}

/** Deliveries a direct channel may have in flight (the consumer queues beyond its concurrency). */
export const DIRECT_WINDOW = 1024
/** The least time between two set-ups of one route, so a broken side cannot make it flap. */
const RESTART_DELAY_MS = 1000
/** How long a producer may take to confirm new terms before its channel is withdrawn. */
const TERMS_TIMEOUT_MS = 2000
/**
 * How many times `closedChannelMemoryMs` a closed channel is kept at most while its producer is
 * gone and its consumer, still attached, has not sent its final counts.
 */
const CONSUMER_WAIT_FACTOR = 10
/**
 * How long a new channel waits for the subscriptions it serves to settle what the hub path still
 * holds for them before its producer starts anyway (publish order is then not kept), and how often
 * it looks.
 */
const ORDER_WAIT_MS = 2000
const ORDER_POLL_MS = 5

interface Channel {
  readonly id: string
  readonly route: Route
  readonly producer: RouteEndpoint
  readonly consumer: RouteEndpoint
  terms: DirectTerms
  /**
   * Subscriptions each sent terms covered, until the producer confirmed a later one (copies that
   * arrive after the channel closed still skip them).
   */
  readonly covered: Map<number, Set<Subscription>>
  /**
   * Every subscription the channel ever served, and whether it is Reliable: reports and hand-backs
   * may name only these.
   */
  readonly served: Map<string, boolean>
  /**
   * Ids of the messages whose delivery over the channel ended with the hub: handed back by the
   * producer or requeued from `held` and `orphans`, those it dead-lettered before the consumer's
   * hold of them arrived, and those the consumer handled in the hub's custody. None is taken again.
   * Bounded (twice what the channel can have unsettled: see {@link RouteTable.mostUnsettled}), so
   * that a lying endpoint cannot grow it; past that the oldest are forgotten.
   */
  readonly settled: RecentIds
  /** Copies the producer handed back (at most {@link RouteTable.mostUnsettled}). */
  handedBackByProducer: number
  /**
   * Deliveries the consumer failed after the channel closed, by message id, held while the
   * producer is attached: it hands back what it had unacknowledged, these included.
   */
  readonly orphans: Map<string, Orphan>
  /**
   * Reliable deliveries whose first attempt failed, by message id: the consumer gives them to the
   * hub before the producer retries them, and they are kept until a retry succeeds (the consumer
   * releases them), the producer dead-letters or hands them back, or requeued if it goes first.
   */
  readonly held: Map<string, Orphan>
  /** What the producer reported, summed over the channel's life, by subscription and type. */
  readonly reported: Map<string, DirectCounts>
  /** Dead letters the producer handed the hub, by subscription and type. */
  readonly deadLettered: Map<string, number>
  /**
   * Where the requeueing of `held` and `orphans` stands: not yet (the producer is attached), waiting
   * for the consumer's final counts (the producer went without its final report), or done (what
   * comes after is requeued at once).
   */
  adoption: 'not yet' | 'waiting for the consumer' | 'done'
  /** The producer's final report arrived: its counts are complete. */
  finalReport: boolean
  /** The consumer's final counts (`rfin`), once they arrived. */
  outcomes: ChannelOutcomes[] | undefined
  /**
   * The consumer's counts as its side closed (`rfin` with `provisional`), used should it go before
   * its final ones: what it held then is in the hub's custody, its BestEffort copies counted dropped.
   */
  provisional: ChannelOutcomes[] | undefined
  /** Custody deliveries the consumer released (handled) since, by subscription and type. */
  readonly deliveredInCustody: Map<string, number>
  /** The latest terms the producer confirmed. */
  confirmedSeq: number
  /** Resolved once the producer confirms the latest terms (or the channel goes down). */
  synced: (() => void)[]
  /** Set while the channel waits for its subscriptions to settle before the producer may send. */
  opening: ReturnType<typeof setTimeout> | undefined
}

class Route implements DirectRoute {
  readonly producer: string
  readonly consumer: string
  readonly types: string[]
  readonly mode: RouteSpec['mode']
  state: RouteMetrics['state'] = 'waiting'
  reason: string | undefined = 'waiting for both endpoints'
  channel: Channel | undefined
  epoch = 0
  restartTimer: ReturnType<typeof setTimeout> | undefined
  lastDownAt = Number.NEGATIVE_INFINITY
  readonly stats = {
    established: 0,
    fallbacks: 0,
    routed: 0,
    delivered: 0,
    failed: 0,
    deadLettered: 0,
    handedBack: 0,
    refused: 0,
    queued: 0,
    inFlight: 0,
  }
  /**
   * Deliveries over the route's channels per metrics interval, like the bus's `throughputPerSec`.
   * Reports come every 250 ms and only while there is traffic, so a rate per report would read
   * 8 or 12 per second for a steady 10, and would stay at its last value once the producer fell
   * quiet.
   */
  readonly deliveries: WindowedRate

  constructor(
    readonly id: string,
    spec: RouteSpec,
    private readonly table: RouteTable,
    rateWindowMs: number,
  ) {
    this.producer = spec.producer
    this.consumer = spec.consumer
    this.types = [...spec.types]
    this.mode = spec.mode
    this.deliveries = new WindowedRate(rateWindowMs, monotonicMs())
  }

  revoke(reason = 'revoked by the main process'): void {
    this.table.revoke(this, reason)
  }

  metrics(): RouteMetrics {
    return {
      id: this.id,
      producer: this.producer,
      consumer: this.consumer,
      types: [...this.types],
      state: this.state,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      ...this.stats,
      deliveredPerSec: this.deliveries.perSecond(monotonicMs()),
      held: this.table.heldFor(this),
    }
  }
}

export class RouteTable {
  private readonly routes = new Map<string, Route>()
  /** Open channels and those closed in the last minute (their late reports and hand-backs count). */
  private readonly channels = new Map<string, Channel>()
  private readonly endpoints = new Set<RouteEndpoint>()
  private nextRouteNumber = 1
  private refreshQueued = false
  /** Callers of `shutDown` waiting for every channel's counts to be complete. */
  private readonly settledWaiters: (() => void)[] = []
  /** Whether the hub streams its tail: producers then sample what they publish for it. */
  private tailing = false

  constructor(
    private readonly bus: EventBus,
    private readonly internals: BusInternals,
    private readonly createChannel: (() => PortPair) | undefined,
    /** A producer skipped messages its tail sample had no room for. */
    private readonly tailSampled: () => void,
    /** How long a closed channel's reports, hand-backs and dead letters are still accepted (ms). */
    private readonly closedChannelMemoryMs: number,
  ) {
    internals.setRoutes(() => [...this.routes.values()].map((route) => route.metrics()))
    // In-process subscriptions change terms too; a remote one's session refreshes at once itself,
    // once the subscription is registered there.
    internals.onSubscriptionsChanged(() => {
      if (this.refreshQueued) return
      this.refreshQueued = true
      queueMicrotask(() => {
        this.refreshQueued = false
        this.refresh()
      })
    })
  }

  /**
   * Declares a route; it becomes active once both endpoints are attached.
   * @throws EventBusError `Configuration` for an invalid spec or one overlapping a declared route,
   * `Unauthorized` when an attached side lacks the permission for a type
   */
  declare(input: unknown): DirectRoute {
    if (this.bus.state === 'shuttingDown' || this.bus.state === 'stopped')
      throw EventBusError.of('BusShuttingDown', {})
    const parsed = routeSpecSchema.safeParse(input)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw EventBusError.of('Configuration', {
        reason: `route: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'} (expected { producer, consumer, types, mode? })`,
      })
    }
    const spec = parsed.data
    if (spec.producer === spec.consumer) {
      throw EventBusError.of('Configuration', { reason: 'route: producer and consumer must differ' })
    }
    const unknown = spec.types.find((type) => !Object.hasOwn(this.bus.catalog, type))
    if (unknown !== undefined) {
      throw EventBusError.of('Configuration', { reason: `route: '${unknown}' is not in the bus's catalog` })
    }
    for (const other of this.routes.values()) {
      const overlap =
        other.producer === spec.producer && spec.types.find((type) => other.types.includes(type))
      if (other.state !== 'revoked' && overlap) {
        throw EventBusError.of('Configuration', {
          reason: `route: ${spec.producer}'s '${overlap}' already goes direct (${other.id})`,
        })
      }
    }
    for (const endpoint of this.endpoints) {
      const refusal = this.refusal(spec, endpoint)
      if (refusal !== undefined) throw refusal
    }
    const route = new Route(
      `${spec.producer}→${spec.consumer}#${this.nextRouteNumber++}`,
      spec,
      this,
      this.bus.config.metricsIntervalMs,
    )
    this.routes.set(route.id, route)
    this.establish(route)
    return route
  }

  list(): DirectRoute[] {
    return [...this.routes.values()]
  }

  /** Deliveries the hub keeps for the channels of `route`, open and recently closed. */
  heldFor(route: Route): number {
    let held = 0
    for (const channel of this.channels.values()) if (channel.route === route) held += channel.held.size
    return held
  }

  /** An endpoint finished its handshake. */
  attached(endpoint: RouteEndpoint): void {
    this.endpoints.add(endpoint)
    for (const route of this.routes.values()) {
      if (route.producer === endpoint.module || route.consumer === endpoint.module) this.establish(route)
    }
  }

  /** An endpoint's session ended. */
  detached(endpoint: RouteEndpoint): void {
    this.endpoints.delete(endpoint)
    for (const route of this.routes.values()) {
      const channel = route.channel
      if (channel !== undefined && (channel.producer === endpoint || channel.consumer === endpoint)) {
        this.down(route, `${endpoint.module} detached`)
      }
    }
    // A producer that is gone hands nothing back: what it held and what its consumers failed since
    // is requeued, once the consumer's final counts make up for the producer's missing ones.
    for (const channel of this.channels.values()) {
      if (channel.producer === endpoint && channel.adoption === 'not yet') {
        const waitForConsumer =
          !channel.finalReport && channel.outcomes === undefined && this.endpoints.has(channel.consumer)
        if (waitForConsumer) channel.adoption = 'waiting for the consumer'
        else this.producerGone(channel)
      } else if (channel.consumer === endpoint && channel.adoption === 'waiting for the consumer') {
        this.producerGone(channel)
      }
    }
  }

  /**
   * The producer of `channel` is gone: unless its final report came, the consumer's final counts
   * (if any) make up what it never reported; then what the hub held for it is requeued.
   */
  private producerGone(channel: Channel): void {
    if (!channel.finalReport) {
      if (channel.outcomes !== undefined) this.reconcile(channel, channel.outcomes, true)
      else if (channel.provisional !== undefined) this.reconcile(channel, channel.provisional, false)
    }
    channel.adoption = 'done'
    this.adoptOrphans(channel)
    this.settledChannel()
  }

  /**
   * Counts what the producer of `channel` never reported, from what its consumer saw: its `final`
   * counts, or those from when its side closed. Final counts include what the hub counted since
   * (deliveries released from custody, failures after the close); counts from the close do not.
   */
  private reconcile(channel: Channel, outcomes: readonly ChannelOutcomes[], final: boolean): void {
    const publishedByType = new Map<string, number>()
    for (const seen of outcomes) {
      const key = countsKey(seen.sid, seen.type)
      const reported = { ...(channel.reported.get(key) ?? zeroDirectCounts(seen.sid, seen.type)) }
      if (final) reported.delivered += channel.deliveredInCustody.get(key) ?? 0
      const unreported = unreportedCounts(reported, channel.deadLettered.get(key) ?? 0, seen)
      this.count(channel, unreported)
      publishedByType.set(seen.type, Math.max(publishedByType.get(seen.type) ?? 0, unreported.sent))
    }
    // A subscription that takes every message of a type gets one copy of each: for a type only the
    // channel carried (the hub counts the others' publishes itself), its copies the producer never
    // reported are publishes it never reported. Where every subscription filters by priority, that
    // is a lower bound.
    for (const [type, count] of publishedByType) {
      if (count > 0 && !channel.terms.shared.includes(type))
        this.internals.recordDirectPublished(type, channel.route.producer, count)
    }
    // The consumer's failures after the channel closed are in its final counts already.
    if (final)
      for (const orphans of [channel.held, channel.orphans])
        for (const orphan of orphans.values()) orphan.failedSinceReport = 0
  }

  /**
   * Resolves once every producer has confirmed its channel's latest terms (undefined when all
   * have): a subscription answered after this gets everything published after its answer.
   */
  settled(): Promise<void> | undefined {
    const waits: Promise<void>[] = []
    for (const route of this.routes.values()) {
      const channel = route.channel
      if (channel === undefined || channel.confirmedSeq >= channel.terms.seq) continue
      waits.push(
        new Promise((resolve) => {
          // A producer that does not confirm in time loses its channel rather than hold the answer.
          const cancelTimeout = timeoutAfterInput(TERMS_TIMEOUT_MS, () => {
            if (route.channel === channel) this.down(route, 'the producer did not confirm new terms in time')
          })
          channel.synced.push(() => {
            cancelTimeout()
            resolve()
          })
        }),
      )
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined)
  }

  /** Re-computes every active channel's terms after subscriptions changed; sends those that did. */
  refresh(): void {
    for (const route of this.routes.values()) {
      const channel = route.channel
      if (channel === undefined) continue
      const next = this.termsFor(route, channel.producer, channel.consumer, channel.terms.seq + 1)
      if (sameTerms(next.terms, channel.terms)) continue
      channel.terms = next.terms
      channel.covered.set(next.terms.seq, next.covered)
      for (const target of next.terms.targets) channel.served.set(target.sid, target.reliable)
      channel.producer.send({ t: 'rterms', id: channel.id, terms: next.terms })
    }
  }

  /** Frames about direct channels from the endpoint `from`; false if `frame` is not one. */
  receive(from: RouteEndpoint, frame: EndpointFrame): boolean {
    const id = 'id' in frame ? frame.id : undefined
    return this.refusalsCounted(from, id, () => this.take(from, frame))
  }

  /**
   * Runs `act` on a frame about channel `id` from `from`; if it throws (the frame is refused) and
   * `from` is one of the channel's own ends, the refusal counts in the route's metrics, so that an
   * endpoint that misbehaves shows.
   */
  private refusalsCounted<T>(from: RouteEndpoint, id: unknown, act: () => T): T {
    try {
      return act()
    } catch (error) {
      const channel = typeof id === 'string' ? this.channels.get(id) : undefined
      if (channel !== undefined && (channel.producer === from || channel.consumer === from)) {
        channel.route.stats.refused++
      }
      throw error
    }
  }

  private take(from: RouteEndpoint, frame: EndpointFrame): boolean {
    switch (frame.t) {
      case 'rsync': {
        const channel = this.channelOf(from, frame.id)
        const { route } = channel
        if (route.channel !== channel || frame.seq <= channel.confirmedSeq) return true
        channel.confirmedSeq = frame.seq
        if (route.state === 'establishing' && channel.opening === undefined) this.openWhenSettled(channel)
        for (const seq of channel.covered.keys()) if (seq < frame.seq) channel.covered.delete(seq)
        if (frame.seq === channel.terms.seq) for (const resolve of channel.synced.splice(0)) resolve()
        return true
      }
      case 'rstat':
        this.report(from, frame.id, frame.report)
        return true
      case 'rdead':
        this.deadLetter(from, frame)
        return true
      case 'rdown': {
        const channel = this.channelOf(from, frame.id)
        if (channel.route.channel === channel) this.down(channel.route, `the channel closed: ${frame.reason}`)
        return true
      }
      case 'rrel': {
        const channel = this.consumedBy(from, frame.id)
        for (const id of frame.ids) {
          const held = channel.held.get(id)
          if (held === undefined) continue
          channel.held.delete(id)
          if (held.custody) this.releasedFromCustody(channel, held)
        }
        return true
      }
      case 'rfin':
        this.consumerFinished(from, frame.id, frame.outcomes, frame.provisional === true)
        return true
      default:
        return false
    }
  }

  /**
   * The subscriptions a copy from channel `via` (under terms `seq`) must skip, since the channel
   * delivered to them already.
   * @throws EventBusError `Unauthorized` when `via` is not a channel of this producer
   */
  skipFor(from: RouteEndpoint, via: string, seq: number | undefined): ReadonlySet<Subscription> {
    return this.channelOf(from, via).covered.get(seq ?? -1) ?? new Set()
  }

  /**
   * Queues a delivery of channel `via` again for its subscription on the hub path: from the
   * producer, a copy it had unacknowledged when the channel went down; from the consumer, one its
   * handler failed after the channel closed (the producer was no longer there to retry it). The
   * hub takes each message once: the consumer's is held while the producer is attached, since the
   * producer hands the same message back.
   * @throws EventBusError `Unauthorized` (not this channel's producer or consumer, a subscription
   * it did not serve, or not the producer's message of a route type), `MessageRejected` (an invalid
   * message); checked before anything is counted
   */
  handBack(
    from: RouteEndpoint,
    via: string,
    subscriptionId: string,
    message: Envelope,
    unsent = false,
    prior?: PriorAttempts,
  ): void {
    this.refusalsCounted(from, via, () =>
      this.takeHandBack(from, via, subscriptionId, message, unsent, prior),
    )
  }

  private takeHandBack(
    from: RouteEndpoint,
    via: string,
    subscriptionId: string,
    message: Envelope,
    unsent: boolean,
    prior: PriorAttempts | undefined,
  ): void {
    const consumed = this.channels.get(via)
    if (consumed !== undefined && consumed.consumer === from) {
      if (prior !== undefined) {
        throw EventBusError.of('MessageRejected', {
          reason: `only channel ${via}'s producer counts attempts: its consumer's hand-back carries no \`prior\``,
          issues: [],
        })
      }
      this.orphaned(consumed, subscriptionId, message)
      return
    }
    const channel = this.channelOf(from, via)
    this.assertDeliveryOf(channel, from, subscriptionId, message)
    // Settled at the hub already: requeued, dead-lettered, or delivered from its custody.
    if (channel.settled.has(message.id)) return
    const most = this.mostUnsettled(channel.served)
    if (channel.handedBackByProducer >= most) {
      // More than its window and its queue could hold: not copies of this channel.
      throw EventBusError.of('MessageRejected', {
        reason: `channel ${channel.id}'s producer could hand back at most ${most} copies (its window and its queue)`,
        issues: [],
      })
    }
    channel.handedBackByProducer++
    channel.orphans.delete(message.id)
    channel.held.delete(message.id)
    this.takeBack(channel, subscriptionId, message, !unsent, 0, prior)
  }

  /**
   * Keeps a delivery of channel `via` whose first attempt failed, sent by its consumer before the
   * producer retries it: requeued for its subscription on the hub path if the producer's session
   * ends before a retry succeeds (the consumer releases it), or it dead-letters or hands it back.
   * With `custody`, one the consumer had not settled when the channel closed (a held retry is
   * marked so): its release is then counted as its delivery, since no ack reaches the producer.
   * @throws EventBusError `Unauthorized` (not this channel's consumer, a subscription it did not
   * serve Reliably, not the producer's message of a route type), `MessageRejected` (an invalid
   * message, or more than the producer could be retrying)
   */
  hold(from: RouteEndpoint, via: string, subscriptionId: string, message: Envelope, custody: boolean): void {
    this.refusalsCounted(from, via, () => this.takeHold(from, via, subscriptionId, message, custody))
  }

  private takeHold(
    from: RouteEndpoint,
    via: string,
    subscriptionId: string,
    message: Envelope,
    custody: boolean,
  ): void {
    const channel = this.consumedBy(from, via)
    this.assertDeliveryOf(channel, from, subscriptionId, message)
    if (channel.served.get(subscriptionId) !== true) {
      // Only Reliable deliveries are retried.
      throw EventBusError.of('Unauthorized', {
        module: from.module,
        action: 'publish',
        type: message.payload.type,
      })
    }
    if (channel.settled.has(message.id)) return
    const held = channel.held.get(message.id)
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
    channel.held.set(message.id, { subscriptionId, message, failedSinceReport: 0, custody })
    if (channel.adoption === 'done') this.adoptOrphans(channel)
  }

  /**
   * The consumer handled a delivery it had given the hub as the channel closed: counted delivered
   * here, since no ack of it reaches the producer, and settled, should the producer hand it back.
   */
  private releasedFromCustody(channel: Channel, { subscriptionId, message }: Orphan): void {
    const { type } = message.payload
    const key = countsKey(subscriptionId, type)
    channel.settled.add(message.id)
    channel.deliveredInCustody.set(key, (channel.deliveredInCustody.get(key) ?? 0) + 1)
    this.count(channel, { ...zeroDirectCounts(subscriptionId, type), delivered: 1 })
  }

  /**
   * Channel `id` (open or recently closed) if `from` is its route's consumer.
   * @throws EventBusError `Unauthorized` otherwise
   */
  private consumedBy(from: RouteEndpoint, id: string): Channel {
    const channel = this.channels.get(id)
    if (channel === undefined || channel.consumer !== from) {
      throw EventBusError.of('Unauthorized', { module: from.module, action: 'subscribe' })
    }
    return channel
  }

  /**
   * The consumer's final counts of channel `id`: kept in case the producer goes without its final
   * report, and used at once if it already has.
   * @throws EventBusError `Unauthorized` (not this channel's consumer), `MessageRejected` (counts
   * of a subscription or type the channel never served)
   */
  private consumerFinished(
    from: RouteEndpoint,
    id: string,
    outcomes: ChannelOutcomes[],
    provisional: boolean,
  ): void {
    const channel = this.consumedBy(from, id)
    for (const { sid, type } of outcomes) {
      if (!channel.served.has(sid) || !channel.route.types.includes(type)) {
        throw EventBusError.of('MessageRejected', {
          reason: `rfin: channel ${id} never delivered '${type}' to subscription ${sid}`,
          issues: [],
        })
      }
    }
    if (channel.outcomes !== undefined) return
    if (provisional) {
      channel.provisional = outcomes
      return
    }
    channel.outcomes = outcomes
    if (channel.adoption === 'waiting for the consumer') this.producerGone(channel)
  }

  /**
   * A delivery `channel` could have made, sent back by one of its endpoints: for a subscription it
   * served, the producer's own message of a route type, valid as a publish.
   * @throws EventBusError `Unauthorized` or `MessageRejected` naming what is wrong
   */
  private assertDeliveryOf(channel: Channel, from: RouteEndpoint, subscriptionId: string, message: Envelope) {
    assertServed(channel, from, subscriptionId, message)
    assertProducers(channel.route, from, message)
    this.internals.validate(message)
  }

  private orphaned(channel: Channel, subscriptionId: string, message: Envelope): void {
    this.assertDeliveryOf(channel, channel.consumer, subscriptionId, message)
    // A BestEffort delivery that failed is dropped, as it would have been with the producer there.
    if (channel.served.get(subscriptionId) !== true) return
    const held = channel.held.get(message.id)
    if (held !== undefined) {
      // The held copy is requeued instead; this attempt's failure still counts.
      held.failedSinceReport = 1
      return
    }
    if (channel.settled.has(message.id) || channel.orphans.has(message.id)) return
    if (channel.orphans.size >= DIRECT_WINDOW) {
      // More than the channel could have had in flight: not deliveries of this channel.
      throw EventBusError.of('MessageRejected', {
        reason: `channel ${channel.id} had at most ${DIRECT_WINDOW} deliveries in flight`,
        issues: [],
      })
    }
    channel.orphans.set(message.id, { subscriptionId, message, failedSinceReport: 1 })
    if (channel.adoption === 'done') this.adoptOrphans(channel)
  }

  /**
   * Requeues what the producer left behind: deliveries it was retrying (held) and those the
   * consumer failed after the channel closed, each message once.
   */
  private adoptOrphans(channel: Channel): void {
    for (const orphans of [channel.held, channel.orphans]) {
      for (const { subscriptionId, message, failedSinceReport } of orphans.values()) {
        if (!channel.settled.has(message.id))
          this.takeBack(channel, subscriptionId, message, true, failedSinceReport)
      }
      orphans.clear()
    }
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
    channel.settled.add(message.id)
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

  revoke(route: Route, reason: string): void {
    if (route.state === 'revoked') return
    if (route.channel !== undefined) this.down(route, reason)
    clearTimeout(route.restartTimer)
    route.state = 'revoked'
    route.reason = reason
  }

  /** Withdraws every channel (the hub is closing). */
  close(): void {
    for (const route of this.routes.values()) this.revoke(route, 'the hub closed')
  }

  /**
   * The bus is shutting down, and accepts nothing new: every route is revoked, so a producer hands
   * back what it still holds for the drain and publishes through the hub, which refuses it.
   * Resolves once every channel's producer has sent its final counts (or is gone and the consumer's
   * counts stood in): undefined when all have.
   */
  shutDown(): Promise<void> | undefined {
    for (const route of this.routes.values()) this.revoke(route, 'the bus is shutting down')
    if (this.allSettled()) return undefined
    return new Promise((resolve) => this.settledWaiters.push(resolve))
  }

  private allSettled(): boolean {
    for (const channel of this.channels.values())
      if (!channel.finalReport && channel.adoption !== 'done') return false
    return true
  }

  /** A channel's counts became complete, or it was forgotten: wakes `shutDown`'s waiters once all are. */
  private settledChannel(): void {
    if (this.settledWaiters.length === 0 || !this.allSettled()) return
    for (const resolve of this.settledWaiters.splice(0)) resolve()
  }

  private establish(route: Route): void {
    if (route.state === 'revoked' || route.channel !== undefined || route.restartTimer !== undefined) return
    const producer = this.endpointFor(route.producer)
    const consumer = this.endpointFor(route.consumer)
    if (producer === undefined || consumer === undefined) {
      route.reason = 'waiting for both endpoints'
      return
    }
    const refusal = this.refusal(route, producer) ?? this.refusal(route, consumer)
    if (refusal !== undefined) {
      route.reason = refusal.message
      return
    }
    if (this.createChannel === undefined) {
      route.reason = 'this hub has no way to create channels'
      return
    }
    const sinceDown = monotonicMs() - route.lastDownAt
    if (sinceDown < RESTART_DELAY_MS) {
      route.restartTimer = setTimeout(() => {
        route.restartTimer = undefined
        this.establish(route)
      }, RESTART_DELAY_MS - sinceDown)
      return
    }
    let pair: PortPair
    try {
      pair = this.createChannel()
    } catch (error) {
      route.reason = `could not create a channel: ${error instanceof Error ? error.message : String(error)}`
      return
    }
    const { port1, port2 } = pair
    route.epoch++
    const id = `${route.id}.${route.epoch}`
    const { terms, covered } = this.termsFor(route, producer, consumer, 0)
    const served = new Map(terms.targets.map((target) => [target.sid, target.reliable]))
    const channel: Channel = {
      id,
      route,
      producer,
      consumer,
      terms,
      covered: new Map([[0, covered]]),
      served,
      settled: new RecentIds(2 * this.mostUnsettled(served)),
      handedBackByProducer: 0,
      orphans: new Map(),
      held: new Map(),
      reported: new Map(),
      deadLettered: new Map(),
      adoption: 'not yet',
      finalReport: false,
      outcomes: undefined,
      provisional: undefined,
      deliveredInCustody: new Map(),
      confirmedSeq: -1,
      synced: [],
      opening: undefined,
    }
    route.channel = channel
    route.state = 'establishing'
    route.reason = undefined
    route.stats.established++
    this.channels.set(id, channel)
    const limits = this.limits()
    consumer.sendWithPort(
      { t: 'route', id, role: 'consumer', peer: route.producer, types: route.types, port: 0, limits },
      port2,
    )
    producer.sendWithPort(
      { t: 'route', id, role: 'producer', peer: route.consumer, types: route.types, port: 0, terms, limits },
      port1,
    )
    if (this.tailing) producer.send({ t: 'rtail', id, on: true })
  }

  /**
   * Lets the producer of `channel` (which confirmed its terms, so everything it published through
   * the hub before has been routed) start sending once the subscriptions the channel serves are
   * idle: what the hub path held for them has been handled, and direct deliveries cannot overtake
   * it. After ORDER_WAIT_MS (a subscription other publishers keep busy) it starts anyway.
   */
  private openWhenSettled(channel: Channel): void {
    const deadline = monotonicMs() + ORDER_WAIT_MS
    const open = () => {
      const { route } = channel
      if (route.channel !== channel) return
      const settled = [...channel.served.keys()].every((sid) => this.internals.find(sid)?.isIdle ?? true)
      if (!settled && monotonicMs() < deadline) {
        channel.opening = setTimeout(open, ORDER_POLL_MS)
        return
      }
      route.state = 'active'
      channel.producer.send({ t: 'rgo', id: channel.id })
    }
    open()
  }

  /** Tells every open channel's producer to sample for the tail, or to stop. */
  setTailing(on: boolean): void {
    if (on === this.tailing) return
    this.tailing = on
    for (const route of this.routes.values()) {
      const channel = route.channel
      if (channel !== undefined) channel.producer.send({ t: 'rtail', id: channel.id, on })
    }
  }

  /** The channel of `route` is gone: both sides are told, traffic falls back to the hub. */
  private down(route: Route, reason: string): void {
    const channel = route.channel
    if (channel === undefined) return
    route.channel = undefined
    route.state = 'waiting'
    route.reason = reason
    route.stats.fallbacks++
    // What the producer held is handed back or dropped as the channel closes.
    route.stats.queued = 0
    route.stats.inFlight = 0
    route.lastDownAt = monotonicMs()
    for (const resolve of channel.synced.splice(0)) resolve()
    clearTimeout(channel.opening)
    this.forgetLater(channel, monotonicMs())
    for (const endpoint of [channel.producer, channel.consumer]) {
      if (this.endpoints.has(endpoint)) endpoint.send({ t: 'unroute', id: channel.id, reason })
    }
    this.establish(route)
  }

  /**
   * Forgets closed `channel` after `closedChannelMemoryMs`, requeueing what it still holds. While
   * its producer is gone and its consumer is still settling what it had (its final counts not yet
   * in), the channel is kept, up to CONSUMER_WAIT_FACTOR times as long: requeueing those deliveries
   * meanwhile would deliver them twice.
   */
  private forgetLater(channel: Channel, closedAt: number): void {
    // Not before what came by then is read: a release or final counts waiting in a port would
    // otherwise be answered by a second delivery.
    timeoutAfterInput(
      this.closedChannelMemoryMs,
      () => {
        // Waiting for the consumer means it is attached: its leaving ends the wait (see `detached`).
        const waited = monotonicMs() - closedAt
        if (
          channel.adoption === 'waiting for the consumer' &&
          waited < CONSUMER_WAIT_FACTOR * this.closedChannelMemoryMs
        ) {
          this.forgetLater(channel, closedAt)
          return
        }
        // The producer stayed and never handed these back, or the consumer never finished: better
        // twice than never.
        this.adoptOrphans(channel)
        this.channels.delete(channel.id)
        this.settledChannel()
      },
      false,
    )
  }

  /**
   * The most copies of a channel that can be unsettled at once, so the most its producer can hand
   * back or its consumer have held: all the producer can have in flight, plus its backlog (refused
   * with `QueueFull` at `maxQueueSize`, which one publish can pass by a copy for each subscription
   * the channel serves).
   */
  private mostUnsettled(served: ReadonlyMap<string, boolean>): number {
    return DIRECT_WINDOW + this.bus.config.maxQueueSize + served.size
  }

  private limits(): DirectLimits {
    const { maxQueueSize, maxMessageBytes, maxRetryAttempts, retry } = this.bus.config
    return { maxQueueSize, maxMessageBytes, maxRetryAttempts, retry: { ...retry }, window: DIRECT_WINDOW }
  }

  /** Which of the consumer's subscriptions the channel serves, and which types others want too. */
  private termsFor(
    route: Route,
    producer: RouteEndpoint,
    consumer: RouteEndpoint,
    seq: number,
  ): { terms: DirectTerms; covered: Set<Subscription> } {
    const targets: DirectTarget[] = []
    const covered = new Set<Subscription>()
    for (const { subscription, handlerTimeoutMs } of consumer.remoteSubscriptions()) {
      const { filter, mode } = subscription
      if (subscription.closed || mode.kind === 'LatestOnly') continue
      if (route.mode !== undefined && mode.kind !== route.mode) continue
      if (filter.sources !== undefined && !filter.sources.has(producer.module)) continue
      const types = route.types.filter((type) => filter.types === undefined || filter.types.has(type))
      if (types.length === 0) continue
      covered.add(subscription)
      targets.push({
        sid: subscription.id,
        types,
        ...(filter.minPriority === undefined ? {} : { minPriority: filter.minPriority }),
        reliable: mode.kind === 'Reliable',
        timeoutMs: handlerTimeoutMs,
      })
    }
    const shared = route.types.filter((type) =>
      this.internals
        .subscribersOf(type)
        .some(
          (other) =>
            !covered.has(other) &&
            !other.closed &&
            (other.filter.sources === undefined || other.filter.sources.has(producer.module)),
        ),
    )
    return { terms: { seq, targets, shared }, covered }
  }

  private refusal(spec: RouteSpec, endpoint: RouteEndpoint): EventBusError | undefined {
    if (endpoint.module === spec.producer) {
      const type = spec.types.find((candidate) => !mayPublish(endpoint.permissions, candidate))
      if (type !== undefined)
        return EventBusError.of('Unauthorized', { module: endpoint.module, action: 'publish', type })
    }
    if (endpoint.module === spec.consumer) {
      const type = spec.types.find((candidate) => !mayReceive(endpoint.permissions, candidate))
      if (type !== undefined)
        return EventBusError.of('Unauthorized', { module: endpoint.module, action: 'subscribe', type })
    }
    return undefined
  }

  private endpointFor(module: string): RouteEndpoint | undefined {
    let found: RouteEndpoint | undefined
    for (const endpoint of this.endpoints)
      if (endpoint.module === module && endpoint.canRoute) found = endpoint
    return found
  }

  /**
   * Channel `id` (open or recently closed) if `from` is its route's producer.
   * @throws EventBusError `Unauthorized` otherwise
   */
  private channelOf(from: RouteEndpoint, id: string): Channel {
    const channel = this.channels.get(id)
    if (channel === undefined || channel.route.producer !== from.module) {
      throw EventBusError.of('Unauthorized', { module: from.module, action: 'publish' })
    }
    return channel
  }

  /** Adds a producer's report to the bus's counters and the route's. */
  private report(from: RouteEndpoint, channelId: string, report: DirectReport): void {
    const channel = this.channelOf(from, channelId)
    const { route } = channel
    assertWhole(route, from, report, this.internals)
    for (const { type, count } of report.published) {
      if (route.types.includes(type)) this.internals.recordDirectPublished(type, route.producer, count)
    }
    for (const counts of report.counts) {
      if (!route.types.includes(counts.type) || !channel.served.has(counts.sid)) continue
      this.count(channel, counts)
      const key = countsKey(counts.sid, counts.type)
      const reported = channel.reported.get(key)
      if (reported === undefined) channel.reported.set(key, { ...counts })
      else addCounts(reported, counts)
    }
    if (report.final) {
      channel.finalReport = true
      this.settledChannel()
    }
    for (const latency of report.latency) {
      if (channel.served.has(latency.sid))
        this.internals.recordDirectLatency(this.internals.find(latency.sid), latency)
    }
    for (const { msg, routedTo } of report.tail ?? []) this.internals.tapDirect(msg, routedTo)
    if (report.tailSampled) this.tailSampled()
    if (route.channel !== channel) return
    route.stats.queued = report.queued
    route.stats.inFlight = report.inFlight
  }

  /** Adds counts of `channel` to the bus's counters and its route's. */
  private count(channel: Channel, counts: DirectCounts): void {
    const { route } = channel
    this.internals.recordDirect(this.internals.find(counts.sid), counts, route.consumer)
    const { stats } = route
    for (const name of ['routed', 'delivered', 'failed', 'deadLettered'] as const)
      stats[name] = addCount(stats[name], counts[name])
    if (counts.delivered > 0) route.deliveries.record(monotonicMs(), counts.delivered)
  }

  /**
   * Stores a direct delivery the producer gave up on, as the core would have.
   * @throws EventBusError `Unauthorized` (not the producer's message of a route type, or a
   * subscription the channel did not serve), `MessageRejected` (an invalid message)
   */
  private deadLetter(from: RouteEndpoint, frame: Extract<EndpointFrame, { t: 'rdead' }>): void {
    const channel = this.channelOf(from, frame.id)
    // Checked before anything is remembered: a replay of the dead letter would deliver it.
    this.assertDeliveryOf(channel, from, frame.sid, frame.msg)
    // The consumer's hold of a failed delivery normally arrives long before the producer gives up
    // on it. Only a hold still on its way is remembered against, so that it is not kept (a channel
    // that dead-letters for days must not remember every id).
    if (!channel.held.delete(frame.msg.id)) channel.settled.add(frame.msg.id)
    this.internals.deadLetter({
      message: frame.msg,
      subscriptionId: frame.sid,
      module: channel.route.consumer,
      reason: frame.reason,
      attempts: frame.attempts,
      lastError: frame.error,
      firstFailedAt: new Date(frame.firstFailedAt),
      counted: true,
    })
    const key = countsKey(frame.sid, frame.msg.payload.type)
    channel.deadLettered.set(key, (channel.deadLettered.get(key) ?? 0) + 1)
  }
}

/**
 * Checks a producer's report before anything of it is counted, so that a report is taken whole or
 * refused whole: it counts no hand-backs (the hub counts those as they arrive, and a claimed one
 * would take copies off what was routed), no more slow handlers than attempts it counts settled,
 * a latency for each delivery it counts, and its tail samples are the producer's own valid messages of the route's types.
 * @throws EventBusError `MessageRejected` or `Unauthorized` (a tail sample of someone else's)
 */
function assertWhole(route: Route, from: RouteEndpoint, report: DirectReport, internals: BusInternals): void {
  const refuse = (reason: string) => EventBusError.of('MessageRejected', { reason, issues: [] })
  for (const { sid, type, handedBack, slowHandlers, delivered, failed } of report.counts) {
    if (handedBack !== 0)
      throw refuse(
        `a producer's report counts no hand-backs (the hub counts them as they arrive): it claims ${handedBack} for subscription ${sid} and ${type}`,
      )
    // Each slow handler is an attempt that settled, counted in the same report.
    if (slowHandlers > delivered + failed)
      throw refuse(
        `a producer's report counts ${slowHandlers} slow handlers for subscription ${sid} and ${type}, more than the ${delivered + failed} attempts it counts settled`,
      )
  }
  assertLatencyOfDelivered(report)
  for (const { msg } of report.tail ?? []) {
    assertProducers(route, from, msg)
    internals.validate(msg)
  }
}

/**
 * Checks a report's latencies: one per delivery it counts (none beyond), whose sum lies within the
 * slots they were tallied in.
 * @throws EventBusError `MessageRejected`
 */
function assertLatencyOfDelivered(report: DirectReport): void {
  const delivered = new Map<string, number>()
  for (const { sid, delivered: count } of report.counts) delivered.set(sid, (delivered.get(sid) ?? 0) + count)
  for (const { sid, us, n, sumUs } of report.latency) {
    let count = 0
    let lowest = 0
    let highest = 0
    for (let i = 0; i < us.length; i++) {
      const micros = us[i] as number
      const times = n[i] as number
      count += times
      lowest += micros * times
      highest += (micros + slotWidth(micros) - 1) * times
    }
    const problem =
      count > (delivered.get(sid) ?? 0)
        ? `${count} latencies for subscription ${sid}, more than the ${delivered.get(sid) ?? 0} deliveries it counts`
        : sumUs < lowest || sumUs > highest
          ? `a latency sum of ${sumUs} µs for subscription ${sid}, outside the ${lowest}–${highest} µs its tally allows`
          : undefined
    if (problem !== undefined)
      throw EventBusError.of('MessageRejected', {
        reason: `a producer's report counts ${problem}`,
        issues: [],
      })
  }
}

function countsKey(sid: string, type: string): string {
  return `${sid}\u0000${type}`
}

/** A delivery of a channel the hub may have to requeue for its producer. */
interface Orphan {
  readonly subscriptionId: string
  readonly message: Envelope
  /** Failed attempts the producer did not count (the consumer's, after the channel closed). */
  failedSinceReport: number
  /**
   * Given by the consumer as the channel closed, not yet settled: no ack of it will reach the
   * producer, so the hub counts its delivery when the consumer releases it.
   */
  custody?: boolean
}

/**
 * Channel frames that carry messages (tail samples, a consumer's hand-backs) may carry only the
 * route producer's own messages of the route's types.
 * @throws EventBusError `Unauthorized` naming `from` and what was wrong: the source or the type
 */
function assertProducers(route: Route, from: RouteEndpoint, message: Envelope): void {
  const type = message.payload?.type
  if (message.source !== route.producer) {
    throw EventBusError.of('Unauthorized', { module: from.module, action: 'source', type })
  }
  if (!route.types.includes(type)) {
    throw EventBusError.of('Unauthorized', { module: from.module, action: 'publish', type })
  }
}

/** @throws EventBusError `Unauthorized` unless `channel` served subscription `sid` */
function assertServed(channel: Channel, from: RouteEndpoint, sid: string, message: Envelope): void {
  if (channel.served.has(sid)) return
  throw EventBusError.of('Unauthorized', {
    module: from.module,
    action: 'publish',
    type: message.payload?.type,
  })
}

function sameTerms(a: DirectTerms, b: DirectTerms): boolean {
  return JSON.stringify([a.targets, a.shared]) === JSON.stringify([b.targets, b.shared])
}
