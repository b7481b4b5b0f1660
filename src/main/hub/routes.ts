/**
 * Direct routes: the hub brokers a MessagePort pair between a producer endpoint and a consumer
 * endpoint so a hot path takes one hop instead of two, while the hub stays in charge. It checks
 * both sides' permissions, tells the producer which of the consumer's subscriptions the channel
 * serves (its terms) and which types other subscribers also want (those still come through the
 * hub), counts what the producer reports, takes its dead letters and hand-backs, and withdraws the
 * channel when a side goes away or the route is revoked, setting it up again when both are back.
 * The route and its channels are `route.ts`'s; what the hub holds for them, `channel-custody.ts`'s.
 */
import { monotonicMs } from '../../shared/clock.js'
import { describeThrown, EventBusError, issueAt } from '../../shared/errors.js'
import type { Envelope } from '../../shared/message.js'
import { timeoutAfterInput } from '../../shared/peer-timers.js'
import { framesCounted } from '../../shared/unreadable-frames.js'
import {
  type ChannelOutcomes,
  type DirectCounts,
  type DirectLimits,
  type DirectReport,
  type EndpointFrame,
  type HubFrame,
  mayPublish,
  mayReceive,
  type PriorAttempts,
  zeroDirectCounts,
} from '../../shared/wire.js'
import type { EventBus } from '../bus/index.js'
import type { BusInternals } from '../bus/internal.js'
import { addCount } from '../bus/metrics.js'
import type { Subscription } from '../bus/subscription.js'
import { ChannelCustody } from './channel-custody.js'
import { addCounts, unreportedCounts } from './reconcile.js'
import {
  type Channel,
  countsKey,
  DIRECT_WINDOW,
  type DirectRoute,
  deliveryKey,
  newChannel,
  type PortPair,
  Route,
  type RouteEndpoint,
  type RouteKeeper,
  routeSpecSchema,
} from './route.js'
import { assertDeliveryOf, assertWhole } from './route-checks.js'
import { sameTerms, termsFor } from './route-terms.js'

/** The least time between two set-ups of one route, so a broken side cannot make it flap. */
const RESTART_DELAY_MS = 1000
/** How long a producer may take to confirm new terms before its channel is withdrawn. */
const TERMS_TIMEOUT_MS = 2000
/**
 * How many times `closedChannelMemoryMs` a closed channel is kept at most while its producer is
 * gone and its consumer, still attached, has not sent its final counts.
 */
const CONSUMER_WAIT_FACTOR = 10
/** Whether `endpoint` is `channel`'s producer or its consumer. */
function isEndOf(channel: Channel, endpoint: RouteEndpoint): boolean {
  return channel.producer === endpoint || channel.consumer === endpoint
}

/**
 * How long a new channel waits for the subscriptions it serves to settle what the hub path still
 * holds for them before its producer starts anyway (publish order is then not kept), and how often
 * it looks.
 */
const ORDER_WAIT_MS = 2000
const ORDER_POLL_MS = 5

export class RouteTable implements RouteKeeper {
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
  private readonly custody: ChannelCustody

  constructor(
    private readonly bus: EventBus,
    private readonly internals: BusInternals,
    private readonly createChannel: (() => PortPair) | undefined,
    /** A producer skipped messages its tail sample had no room for. */
    private readonly tailSampled: () => void,
    /** How long a closed channel's reports, hand-backs and dead letters are still accepted (ms). */
    private readonly closedChannelMemoryMs: number,
  ) {
    this.custody = new ChannelCustody(bus, internals, (channel, counts) => this.count(channel, counts))
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
      throw EventBusError.of('Configuration', {
        reason: `route: ${issueAt(parsed.error, 'spec')} (expected { producer, consumer, types, mode? })`,
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
    this.custody.adoptOrphans(channel)
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
      const next = termsFor(route, channel.producer, channel.consumer, channel.terms.seq + 1, this.internals)
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
      if (channel !== undefined && isEndOf(channel, from)) {
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
      case 'rrel':
        this.custody.release(this.consumedBy(from, frame.id), frame.to, frame.ids)
        return true
      case 'rfin':
        this.consumerFinished(from, frame.id, frame.outcomes, frame.provisional === true)
        return true
      case 'rbad':
        this.unreadable(from, frame.id, frame.count, frame.reason)
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
   * hub takes each delivery once: the consumer's is held while the producer is attached, since the
   * producer hands the same copy back.
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
    this.refusalsCounted(from, via, () => {
      const consumed = this.channels.get(via)
      if (consumed === undefined || consumed.consumer !== from) {
        this.custody.fromProducer(this.channelOf(from, via), from, subscriptionId, message, unsent, prior)
        return
      }
      if (prior !== undefined) {
        throw EventBusError.of('MessageRejected', {
          reason: `only channel ${via}'s producer counts attempts: its consumer's hand-back carries no \`prior\``,
          issues: [],
        })
      }
      this.custody.fromConsumer(consumed, subscriptionId, message)
    })
  }

  /**
   * Keeps a delivery of channel `via` whose first attempt failed, sent by its consumer before the
   * producer retries it (see {@link ChannelCustody.hold}).
   * @throws EventBusError `Unauthorized` (not this channel's consumer, or as `ChannelCustody.hold`),
   * `MessageRejected` (as `ChannelCustody.hold`)
   */
  hold(from: RouteEndpoint, via: string, subscriptionId: string, message: Envelope, custody: boolean): void {
    this.refusalsCounted(from, via, () =>
      this.custody.hold(this.consumedBy(from, via), from, subscriptionId, message, custody),
    )
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
      const absent = [producer === undefined && route.producer, consumer === undefined && route.consumer]
      route.reason = `waiting for ${absent.filter(Boolean).join(' and ')} to attach over ports`
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
      route.reason = `could not create a channel: ${describeThrown(error)}`
      return
    }
    const { port1, port2 } = pair
    route.epoch++
    const id = `${route.id}.${route.epoch}`
    const { terms, covered } = termsFor(route, producer, consumer, 0, this.internals)
    const limits = this.limits()
    const consumerRefused = handOver(
      consumer,
      { t: 'route', id, role: 'consumer', peer: route.producer, types: [...route.types], port: 0, limits },
      port2,
    )
    if (consumerRefused !== undefined) {
      route.reason = consumerRefused
      for (const port of [port1, port2]) closeUnused(port)
      return
    }
    const channel = newChannel({
      id,
      route,
      producer,
      consumer,
      terms,
      covered,
      settledCapacity: (served) => 2 * this.custody.mostUnsettled(served),
    })
    route.channel = channel
    route.state = 'establishing'
    route.reason = undefined
    route.stats.established++
    this.channels.set(id, channel)
    const producerRefused = handOver(
      producer,
      {
        t: 'route',
        id,
        role: 'producer',
        peer: route.consumer,
        types: [...route.types],
        port: 0,
        terms,
        limits,
      },
      port1,
    )
    if (producerRefused !== undefined) {
      // The consumer has its end: it is told to let go, as of any channel that goes down.
      closeUnused(port1)
      this.down(route, producerRefused, false)
      return
    }
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

  /**
   * The channel of `route` is gone: both sides are told, traffic falls back to the hub, and the
   * route is set up again (unless `setUpAgain` is false: then when an endpoint attaches again).
   */
  private down(route: Route, reason: string, setUpAgain = true): void {
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
    if (setUpAgain) this.establish(route)
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
        this.custody.adoptOrphans(channel)
        this.channels.delete(channel.id)
        this.settledChannel()
      },
      false,
    )
  }

  private limits(): DirectLimits {
    const { maxQueueSize, maxMessageBytes, maxRetryAttempts, retry } = this.bus.config
    return { maxQueueSize, maxMessageBytes, maxRetryAttempts, retry: { ...retry }, window: DIRECT_WINDOW }
  }

  private refusal(
    spec: Pick<DirectRoute, 'producer' | 'consumer' | 'types'>,
    endpoint: RouteEndpoint,
  ): EventBusError | undefined {
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

  /**
   * Frames on channel `id` that `from`, one of its ends, could not read: they count against the
   * other end, as its connection's bad frames and the route's refused frames, and it is told why.
   * @throws EventBusError `Unauthorized` when `from` is neither end of the channel
   */
  private unreadable(from: RouteEndpoint, id: string, count: number, reason: string): void {
    const channel = this.channels.get(id)
    if (channel === undefined || !isEndOf(channel, from)) {
      throw EventBusError.of('Unauthorized', { module: from.module, action: 'subscribe' })
    }
    const sender = channel.producer === from ? channel.consumer : channel.producer
    channel.route.stats.refused += count
    const reasonGiven = `${framesCounted(count)} you sent on direct channel ${id} could not be read by ${from.module}, dropped: ${reason}`
    sender.sentUnreadable(count, EventBusError.of('MessageRejected', { reason: reasonGiven, issues: [] }))
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
    const subscription = this.internals.find(counts.sid)
    this.internals.recordDirect(subscription, counts, route.consumer)
    if (counts.queueFull > 0)
      this.internals.recordDirectQueueFull(counts.type, route.producer, subscription, counts.queueFull)
    const { stats } = route
    for (const name of ['routed', 'delivered', 'failed', 'deadLettered', 'queueFull'] as const)
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
    assertDeliveryOf(channel, from, frame.sid, frame.msg, this.internals)
    // The consumer's hold of a failed delivery normally arrives long before the producer gives up
    // on it. Only a hold still on its way is remembered against, so that it is not kept (a channel
    // that dead-letters for days must not remember every id).
    const delivery = deliveryKey(frame.sid, frame.msg.id)
    if (!channel.held.delete(delivery)) channel.settled.add(delivery)
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
 * Sends an endpoint its end of a channel; what went wrong, if its transport refused the port (a
 * `createChannel` that makes ports of a kind the endpoints' transport cannot carry), else undefined.
 * Said in the route's reason rather than thrown in the hub: the route stays on the hub path until an
 * endpoint attaches again.
 */
function handOver(endpoint: RouteEndpoint, frame: HubFrame, port: unknown): string | undefined {
  try {
    endpoint.sendWithPort(frame, port)
    return undefined
  } catch (error) {
    return `could not hand the channel to ${endpoint.module}: ${describeThrown(error)}`
  }
}

/** Closes a port of a channel that was never handed over, if it is one that can be closed. */
function closeUnused(port: unknown): void {
  const close = (port as { close?: unknown } | null)?.close
  if (typeof close === 'function') close.call(port)
}
