/**
 * The event bus: validation, routing through a type index, scheduling of deliveries, dead letters,
 * metrics and lifecycle. Runtime-neutral: only `crypto.randomUUID`, `performance.now`, timers and
 * `queueMicrotask`.
 */
import {
  type BuiltinCatalog,
  type Catalog,
  type ErrorReport,
  extendCatalog,
  isModuleId,
  notAModuleId,
  type TypeOf,
} from '../../shared/catalog.js'
import { LONGEST_WAIT_MS, monotonicMs } from '../../shared/clock.js'
import type { DeadLetterEntry, DeadLetterReason } from '../../shared/dead-letter.js'
import type { DeliveryMode } from '../../shared/delivery-mode.js'
import { EventBusError } from '../../shared/errors.js'
import {
  type FilterInput,
  matchesSourceAndPriority,
  type TypesKnownOnlyAtRunTime,
} from '../../shared/filter.js'
import { freezeEnvelope } from '../../shared/frozen-envelope.js'
import type { BusMessage, Envelope } from '../../shared/message.js'
import { type MessageValidator, messageValidator } from '../../shared/message-validator.js'
import type { BusMetrics, Counters, MetricsPoint, RouteMetrics } from '../../shared/metrics-snapshot.js'
import { timeoutAfterInput } from '../../shared/peer-timers.js'
import type { RequestReply } from '../../shared/request-reply.js'
import { publishRequest, type RequestOptions, Requests } from '../../shared/requests.js'
import { type RespondOptions, subscribeResponder } from '../../shared/responder.js'
import { checkSubscribeArguments, type SubscribeOptions } from '../../shared/subscribe-arguments.js'
import { DIRECT_OUTCOMES, type DirectCounts } from '../../shared/wire.js'
import { assertConfigObject, type EventBusConfig, type EventBusConfigInput, resolveConfig } from './config.js'
import { type DeadLetters, deadLetterCommands } from './dead-letter-commands.js'
import { type DeadLetterPersistence, DeadLetterStore } from './dead-letters.js'
import {
  type BusInternals,
  busInternals,
  OUTSIDE_SETTLE_MS,
  type RouteTap,
  type WithInternals,
} from './internal.js'
import {
  addCount,
  CountersByKey,
  IntervalLatency,
  LatencyHistogram,
  newCounters,
  WindowedRate,
} from './metrics.js'
import type { PendingCopy } from './queues.js'
import { ModuleRegistry, ModuleStatus } from './registry.js'
import { type DeliveryContext, type MessageHandler, Subscription } from './subscription.js'

/** Options of {@link createEventBus}: configuration plus extra message types. */
export interface EventBusOptions<X extends Catalog = Record<never, never>> extends EventBusConfigInput {
  /** Extra `{ [type]: zodSchema }` entries; built-in type names cannot be redefined. */
  catalog?: X
  /**
   * Keeps dead letters across restarts (the hosts pass a file-backed log): `start()` loads what
   * earlier runs left, every change is recorded, `shutdown()` flushes.
   */
  deadLetterPersistence?: DeadLetterPersistence
}

/**
 * Where a bus is in its life: `created` (subscribe allowed, publish refused with `NotStarted`),
 * `running`, `shuttingDown` (everything refused with `BusShuttingDown` while the drain runs), `stopped`.
 */
export type BusState = 'created' | 'running' | 'shuttingDown' | 'stopped'

/** The in-process broker. `C` is its catalog: the built-in types plus any added at creation. */
export interface EventBus<C extends Catalog = BuiltinCatalog> extends RequestReply<C> {
  /** The resolved, read-only configuration. */
  readonly config: Readonly<EventBusConfig>
  /** The catalog the bus validates against, frozen: its types are fixed when the bus is created. */
  readonly catalog: Readonly<C>
  /** Where the bus is in its life: `created`, `running`, `shuttingDown` or `stopped`. */
  readonly state: BusState
  /** The dead-letter queue: list, replay and purge what Reliable subscriptions could not deliver. */
  readonly deadLetters: DeadLetters
  /**
   * Module status: `ModuleReady` and a module's own `HealthCheck` answers update it; a module's
   * own `Error` reports count in it, the latest kept.
   */
  readonly registry: ModuleRegistry
  /** Starts accepting publishes. Idempotent. */
  start(): Promise<void>
  /** Validates and routes a message; resolves with its id once it is enqueued everywhere it goes. */
  publish(message: BusMessage<TypeOf<C>, C>): Promise<string>
  /**
   * Subscribes `module`; the handler is typed by the filter's types. `options.label` says what the
   * subscription is for, shown by the inspector (1 to 80 characters). Resolves with the
   * subscription id.
   */
  subscribe<T extends TypeOf<C>>(
    module: string,
    filter: FilterInput<T>,
    mode: DeliveryMode,
    handler: MessageHandler<BusMessage<T, C>>,
    options?: SubscribeOptions,
  ): Promise<string>
  /**
   * The same for a filter that names no types, or names them only at run time (`string[]`): its
   * handler sees every type. A filter naming a type the catalog lacks fails to compile.
   */
  subscribe<T extends string>(
    module: string,
    filter: FilterInput<T> & TypesKnownOnlyAtRunTime<T>,
    mode: DeliveryMode,
    handler: MessageHandler<BusMessage<TypeOf<C>, C>>,
    options?: SubscribeOptions,
  ): Promise<string>
  /**
   * Ends a subscription at once: nothing more is delivered to it. Copies a Reliable subscription
   * still holds are dead-lettered as `Unsubscribed`, the others counted as dropped; handlers already
   * running finish and count.
   * @throws EventBusError `SubscriptionNotFound` (by rejecting) for an id that names no live subscription
   */
  unsubscribe(subscriptionId: string): Promise<void>
  /** A snapshot of every counter, queue depth and latency percentile, per subscription, module and type. */
  metrics(): Promise<BusMetrics>
  /** Stops accepting, drains up to `drainTimeoutMs`, dead-letters what Reliable subscriptions still hold. Idempotent. */
  shutdown(options?: { drainTimeoutMs?: number }): Promise<void>
}

/**
 * Ended subscriptions whose reason the bus remembers, for copies that come back to them later (a
 * direct channel's): enough for every subscription an endpoint may have (1,024 by default).
 */
const REMEMBERED_END_REASONS = 4096

/**
 * Subscriptions whose latency one of the hub's points carries at most: ~20 ms of its thread a
 * metrics interval, were each to have delivered in it (none does in the app's usual dozen).
 */
export const LATENCIES_PER_POINT = 256

class Bus implements EventBus<Catalog>, DeliveryContext, WithInternals {
  readonly config: Readonly<EventBusConfig>
  readonly catalog: Readonly<Catalog>
  readonly registry = new ModuleRegistry()
  readonly totals: Counters = newCounters()
  readonly deadLetters: DeadLetters
  state: BusState = 'created'

  private readonly validator: MessageValidator
  private readonly store: DeadLetterStore
  private readonly awaitingReplies = new Requests(this)
  private readonly subscriptions = new Map<string, Subscription>()
  /** Subscriptions by the types their filter lists; filters without types are in `anyType`. */
  private readonly byType = new Map<string, Subscription[]>()
  private anyType: Subscription[] = []
  /** Why the most recently ended subscriptions ended (at most REMEMBERED_END_REASONS). */
  private readonly endReasons = new Map<string, DeadLetterReason>()
  /** Ended subscriptions whose in-flight attempts have not settled yet. */
  private readonly closing = new Set<Subscription>()
  private readonly typeCounters = new CountersByKey()
  private readonly moduleCounters = new CountersByKey()
  /**
   * Every delivery's latency, recorded as it is counted: a snapshot reads it as it is, where it
   * used to add up every subscription's histogram (and the ended ones') each time.
   */
  private readonly latency = new LatencyHistogram()
  private readonly recentLatency: IntervalLatency
  private predicateErrors = 0
  private readonly rate: WindowedRate
  private startedAt = 0
  private due: Subscription[] = []
  private flushQueued = false
  private drained: (() => void) | undefined
  /** Subscriptions ended at shutdown whose endpoints have not yet said which of their attempts ran. */
  private readonly awaitingWord = new Set<Subscription>()
  private wordsIn: (() => void) | undefined
  private shutdownPromise: Promise<void> | undefined
  private routeTap: RouteTap | undefined
  private readonly persistent: boolean
  private starting: Promise<void> | undefined

  private routesSource: () => RouteMetrics[] = () => []
  private subscriptionsChanged: () => void = () => {}
  private stopOutside: () => Promise<void> | undefined = () => undefined

  readonly [busInternals]: BusInternals = {
    publish: (message, skip) => this.publishNow(message, skip),
    publishRequest: (message, from, skip) => this.publishRequestNow(message, from, skip),
    metricsPoint: () => {
      const now = monotonicMs()
      return {
        ...this.metricsPoint(now, this.routesSource()),
        busySubscriptions: this.busySubscriptions(now),
        publishedByType: this.typeCounters.published(),
      }
    },
    find: (subscriptionId) => this.subscriptions.get(subscriptionId),
    endReason: (subscriptionId) => this.endReasons.get(subscriptionId),
    validate: (message) => this.validator.validate(message),
    subscribersOf: (type) => [...(this.byType.get(type) ?? []), ...this.anyType],
    onSubscriptionsChanged: (listener) => {
      this.subscriptionsChanged = listener
    },
    onShutdown: (listener) => {
      this.stopOutside = listener
    },
    handBack: (message, subscription, prior) => {
      this.validator.validate(message)
      subscription.enqueue(message, monotonicMs(), prior)
    },
    recordDirectPublished: (type, source, count) => {
      for (const counters of [this.totals, this.countersForType(type), this.countersForModule(source)])
        counters.published = addCount(counters.published, count)
    },
    recordDirectQueueFull: (type, source, subscription, count) =>
      this.countQueueFull(type, source, subscription, count),
    recordDirect: (subscription, counts, subscriber) => {
      // A subscription that ended before the report still had these outcomes: the bus counts them.
      if (subscription === undefined) this.countDirect(counts, subscriber)
      else subscription.recordDirect(counts)
    },
    recordDirectLatency: (subscription, { us, n, sumUs }) => {
      // As its counts: a subscription that ended before the report still had these deliveries.
      this.latency.recordCounted(us, n, sumUs)
      subscription?.recordLatency({ us, n, sumUs })
    },
    deadLetter: ({ counted, ...entry }) => {
      this.validator.validate(entry.message)
      if (!counted) {
        this.totals.deadLettered++
        this.countersForType(entry.message.payload.type).deadLettered++
        this.countersForModule(entry.module).deadLettered++
      }
      this.store.add({ id: crypto.randomUUID(), ...entry, lastFailedAt: new Date() })
    },
    setRoutes: (source) => {
      this.routesSource = source
    },
    subscribeRemote: (module, filter, mode, handler, { label, ...limits }) => {
      if (this.state === 'shuttingDown' || this.state === 'stopped')
        throw EventBusError.of('BusShuttingDown', {})
      const options = label === undefined ? undefined : { label }
      const subscription = this.createSubscription(module, filter, mode, handler, options, limits)
      this.subscriptions.set(subscription.id, subscription)
      this.index(subscription)
      return subscription
    },
    end: (subscription, reason, inFlightSettle = false) => this.end(subscription, reason, !inFlightSettle),
    setRouteTap: (tap) => {
      this.routeTap = tap
    },
    tapDirect: (message, routedTo) => this.routeTap?.(message, routedTo),
  }

  constructor(options: EventBusOptions<Catalog>) {
    assertConfigObject(options)
    const { catalog, deadLetterPersistence, ...config } = options
    this.config = resolveConfig(config)
    this.catalog = extendCatalog(catalog)
    this.validator = messageValidator(this.catalog, this.config.maxMessageBytes)
    this.store = new DeadLetterStore(this.config.deadLetterQueueSize, deadLetterPersistence)
    this.persistent = deadLetterPersistence !== undefined
    this.rate = new WindowedRate(this.config.metricsIntervalMs, monotonicMs())
    this.recentLatency = new IntervalLatency(this.config.metricsIntervalMs, monotonicMs())
    this.deadLetters = deadLetterCommands({
      store: this.store,
      knows: (type) => this.validator.knows(type),
      assertRunning: () => this.assertRunning(),
      requeue: (entry) => this.requeue(entry),
    })
  }

  start(): Promise<void> {
    if (this.state === 'shuttingDown' || this.state === 'stopped') {
      return Promise.reject(EventBusError.of('BusShuttingDown', {}))
    }
    if (this.state !== 'created') return Promise.resolve()
    const run = () => {
      this.state = 'running'
      this.startedAt = monotonicMs()
    }
    // Without persistence the bus runs at once; with it, once the saved dead letters are back.
    if (!this.persistent) {
      run()
      return Promise.resolve()
    }
    this.starting ??= this.store.restore().then(() => {
      if (this.state === 'created') run()
    })
    return this.starting
  }

  publish(message: Envelope): Promise<string> {
    try {
      return Promise.resolve(this.publishNow(message))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  // The reply's type is the one the interface promises: `arrived` takes only `replyType`'s.
  request(message: Envelope, options: RequestOptions): Promise<never> {
    return this.awaitingReplies.request(message, options) as Promise<never>
  }

  [publishRequest](message: Envelope, from: string | undefined): Promise<number> {
    try {
      return Promise.resolve(this.publishRequestNow(message, from))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  respond(module: string, requestType: string, options: RespondOptions, answer: unknown): Promise<string> {
    const refuseReplyType = (replyType: string) =>
      Object.hasOwn(this.catalog, replyType)
        ? undefined
        : EventBusError.of('Configuration', {
            reason: `respond: the reply type '${replyType}' is not in the bus's catalog`,
          })
    // Published in the handler's own turn: a refused reply throws there, and fails the request.
    const sendReply = (reply: Envelope) => {
      this.publishNow(reply)
    }
    return subscribeResponder(this, { refuseReplyType, sendReply }, module, requestType, options, answer)
  }

  subscribe(
    module: string,
    filter: FilterInput<string>,
    mode: DeliveryMode,
    handler: MessageHandler<never>,
    options?: SubscribeOptions,
  ): Promise<string> {
    try {
      if (this.state === 'shuttingDown' || this.state === 'stopped')
        throw EventBusError.of('BusShuttingDown', {})
      const subscription = this.createSubscription(module, filter, mode, handler as MessageHandler, options)
      this.subscriptions.set(subscription.id, subscription)
      this.index(subscription)
      return Promise.resolve(subscription.id)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  unsubscribe(subscriptionId: string): Promise<void> {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) {
      return Promise.reject(
        EventBusError.of('SubscriptionNotFound', { subscriptionId: String(subscriptionId) }),
      )
    }
    this.end(subscription, 'Unsubscribed', false)
    return Promise.resolve()
  }

  metrics(): Promise<BusMetrics> {
    const now = monotonicMs()
    const routes = this.routesSource()
    return Promise.resolve({
      ...this.metricsPoint(now, routes),
      messagesCoalesced: this.totals.coalesced,
      messagesRetried: this.totals.retried,
      messagesQueueFull: this.totals.queueFull,
      messagesUnrouted: this.totals.unrouted,
      predicateErrors: this.predicateErrors,
      maxQueueSize: this.config.maxQueueSize,
      deliveryLatency: this.latency.summary(),
      throughputPerSec: this.rate.perSecond(now),
      subscriptions: [...this.subscriptions.values()].map((subscription) => subscription.snapshot(now)),
      modules: this.moduleCounters.snapshot(),
      types: this.typeCounters.snapshot(),
      deadLetters: {
        size: this.store.size,
        capacity: this.store.capacity,
        evicted: this.store.evicted,
        changes: this.store.changes,
      },
      registry: { overall: this.registry.summary().overall, modules: this.registry.list() },
      routes,
      uptimeMs: this.startedAt === 0 ? 0 : now - this.startedAt,
    })
  }

  /**
   * The fields of a snapshot that charts plot over time, at `now`: no walk of any subscription's
   * latency, so the hub takes one every interval for its history whether or not anyone watches.
   */
  private metricsPoint(now: number, routes: readonly RouteMetrics[]): MetricsPoint {
    let currentQueueDepth = 0
    let inFlight = 0
    for (const subscription of [...this.subscriptions.values(), ...this.closing]) {
      currentQueueDepth += subscription.queueDepth
      inFlight += subscription.inFlight
    }
    // Copies waiting at (or in flight from) a direct channel's producer are queued all the same.
    for (const route of routes) {
      currentQueueDepth += route.queued
      inFlight += route.inFlight
    }
    return {
      messagesPublished: this.totals.published,
      messagesDelivered: this.totals.delivered,
      messagesFailed: this.totals.failed,
      messagesDropped: this.totals.dropped,
      messagesDeadLettered: this.totals.deadLettered,
      currentQueueDepth,
      inFlight,
      recentLatency: this.recentLatency.since(this.latency, now),
      collectedAt: new Date(),
    }
  }

  /**
   * The subscriptions with copies queued or in flight, or deliveries measured in the latest metrics
   * interval (with their latency): all a point needs to chart any one's queue and latency. A
   * summary costs ~75 µs of the thread (docs/performance.md, *Subscription latency in the hub's
   * points*): a point carries at most {@link LATENCIES_PER_POINT}, the oldest subscriptions first.
   */
  private busySubscriptions(now: number): NonNullable<MetricsPoint['busySubscriptions']> {
    const busy: NonNullable<MetricsPoint['busySubscriptions']> = []
    let latencies = 0
    for (const subscription of this.subscriptions.values()) {
      const { id, queueDepth, inFlight } = subscription
      const recentLatency = latencies < LATENCIES_PER_POINT ? subscription.recentLatencyAt(now) : undefined
      if (recentLatency !== undefined) {
        latencies++
        busy.push({ id, queueDepth, inFlight, recentLatency })
      } else if (queueDepth > 0 || inFlight > 0) busy.push({ id, queueDepth, inFlight })
    }
    return busy
  }

  shutdown(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(
        EventBusError.of('Configuration', { reason: 'shutdown options are an object { drainTimeoutMs? }' }),
      )
    }
    let drainTimeoutMs: unknown
    try {
      drainTimeoutMs = options.drainTimeoutMs ?? this.config.deliveryTimeoutMs
    } catch {
      // Reading the options threw (a getter, or a Proxy's trap): refused below like any bad value.
    }
    if (typeof drainTimeoutMs !== 'number' || !(drainTimeoutMs >= 0 && drainTimeoutMs <= LONGEST_WAIT_MS)) {
      return Promise.reject(
        EventBusError.of('Configuration', {
          reason: `drainTimeoutMs must be a number from 0 to ${LONGEST_WAIT_MS} (got ${typeof drainTimeoutMs === 'number' ? drainTimeoutMs : typeof drainTimeoutMs})`,
        }),
      )
    }
    this.state = 'shuttingDown'
    const deadline = monotonicMs() + drainTimeoutMs
    // Direct channels stop first: what they hand back joins the queues the drain empties.
    this.shutdownPromise = within(this.stopOutside(), drainTimeoutMs)
      .then(() => this.drain(Math.max(0, deadline - monotonicMs())))
      .then(() => {
        const ended = [...this.subscriptions.values(), ...this.closing]
        for (const subscription of ended) {
          const open = !subscription.closed
          this.end(subscription, 'Shutdown', true, true)
          if (subscription.awaitsWord) this.awaitingWord.add(subscription)
          if (open) subscription.endedByBus?.()
        }
        // What endpoints still held for those subscriptions comes back now, and their word on
        // which deliveries they had started, to be dead-lettered before the store's last flush.
        const answered =
          this.awaitingWord.size === 0
            ? undefined
            : new Promise<void>((resolve) => {
                this.wordsIn = resolve
              })
        return within(
          Promise.all([this.stopOutside(), answered]).then(() => undefined),
          OUTSIDE_SETTLE_MS,
        ).then(() => {
          for (const subscription of ended) subscription.stopAwaitingWord()
        })
      })
      .then(() => {
        this.state = 'stopped'
        // Replies queued before the shutdown were delivered in the drain; no other can come now.
        this.awaitingReplies.end(EventBusError.of('BusShuttingDown', {}))
        return this.store.flush()
      })
    return this.shutdownPromise
  }

  // DeliveryContext

  countersForType(type: string): Counters {
    return this.typeCounters.of(type)
  }

  countersForModule(module: string): Counters {
    return this.moduleCounters.of(module)
  }

  delivered(now: number, latencyMs: number): void {
    this.rate.record(now)
    this.latency.record(latencyMs)
  }

  countDirect(counts: DirectCounts, subscriber: string): void {
    const counted = [this.totals, this.countersForType(counts.type), this.countersForModule(subscriber)]
    for (const name of DIRECT_OUTCOMES) {
      for (const counters of counted) counters[name] = addCount(counters[name], counts[name])
    }
    if (counts.delivered > 0) this.rate.record(monotonicMs(), counts.delivered)
  }

  /**
   * Counts `count` publishes of `type` by `source` refused because `subscription`'s queue (or,
   * reported by a direct channel's producer, its backlog there) was full; the subscription may
   * have ended since.
   */
  private countQueueFull(
    type: string,
    source: string,
    subscription: Subscription | undefined,
    count: number,
  ): void {
    for (const counters of [this.totals, this.countersForType(type), this.countersForModule(source)])
      counters.queueFull = addCount(counters.queueFull, count)
    if (subscription !== undefined)
      subscription.stats.queueFull = addCount(subscription.stats.queueFull, count)
  }

  predicateFailed(count: number): void {
    this.predicateErrors = addCount(this.predicateErrors, count)
  }

  deadLetter(subscription: Subscription, copy: PendingCopy, reason: DeadLetterReason): void {
    const now = Date.now()
    const entry: DeadLetterEntry = {
      id: crypto.randomUUID(),
      message: copy.message,
      subscriptionId: subscription.id,
      module: subscription.module,
      reason,
      attempts: copy.attempts,
      firstFailedAt: new Date(copy.firstFailedAt ?? now),
      lastFailedAt: new Date(now),
    }
    if (copy.lastError !== undefined) entry.lastError = copy.lastError
    this.store.add(entry)
  }

  schedule(subscription: Subscription): void {
    if (subscription.scheduled) return
    subscription.scheduled = true
    this.due.push(subscription)
    if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(this.flush)
    }
  }

  answeredAtShutdown(subscription: Subscription): void {
    this.awaitingWord.delete(subscription)
    if (this.awaitingWord.size === 0) this.wordsIn?.()
  }

  idle(subscription: Subscription): void {
    if (subscription.closed && this.closing.delete(subscription)) this.retire(subscription)
    if (this.drained !== undefined && this.allIdle()) this.drained()
  }

  // internals

  private readonly flush = (): void => {
    this.flushQueued = false
    const due = this.due
    this.due = []
    for (const subscription of due) {
      subscription.scheduled = false
      subscription.pump()
    }
  }

  private publishNow(message: Envelope, skip?: ReadonlySet<Subscription>): string {
    this.assertRunning()
    this.validator.validate(message)
    this.route(message, monotonicMs(), true, skip)
    return message.id
  }

  /** `publishNow`, answering how many subscriptions (of module `from` alone, when given) took it. */
  private publishRequestNow(
    message: Envelope,
    from: string | undefined,
    skip?: ReadonlySet<Subscription>,
  ): number {
    this.assertRunning()
    this.validator.validate(message)
    const takers = this.route(message, monotonicMs(), true, skip)
    if (from === undefined) return takers.length
    let fromTakers = 0
    for (const subscription of takers) if (subscription.module === from) fromTakers++
    return fromTakers
  }

  private assertRunning(): void {
    if (this.state === 'running') return
    throw this.state === 'created'
      ? EventBusError.of('NotStarted', {})
      : EventBusError.of('BusShuttingDown', {})
  }

  /**
   * Routes a validated message to every matching subscription, or to none if a Reliable one is
   * full, and returns those it was routed to. `fresh` is false for replays, which are neither
   * counted as published nor seen by the registry.
   * @throws EventBusError `QueueFull`
   */
  private route(
    message: Envelope,
    publishedAt: number,
    fresh: boolean,
    skip?: ReadonlySet<Subscription>,
  ): readonly Subscription[] {
    const type = message.payload.type
    const matched: Subscription[] = []
    this.collectMatches(this.byType.get(type), message, matched, skip)
    this.collectMatches(this.anyType, message, matched, skip)
    for (const subscription of matched) {
      if (subscription.refusesMore) {
        if (fresh) this.countQueueFull(type, message.source, subscription, 1)
        throw EventBusError.of('QueueFull', {
          currentSize: subscription.queueDepth,
          maxSize: this.config.maxQueueSize,
        })
      }
    }
    if (fresh) {
      freezeEnvelope(message)
      const forType = this.countersForType(type)
      const forModule = this.countersForModule(message.source)
      this.totals.published++
      forType.published++
      forModule.published++
      const registered = this.observeRegistryMessage(message)
      // A direct route's copy for its other subscribers (`skip`) reached its consumer already, and
      // a message the registry acts on was taken by the bus itself.
      if (matched.length === 0 && skip === undefined && !registered) {
        this.totals.unrouted++
        forType.unrouted++
        forModule.unrouted++
      }
    }
    for (const subscription of matched) subscription.enqueue(message, publishedAt)
    if (fresh && this.routeTap !== undefined) this.routeTap(message, matched.length)
    return matched
  }

  private collectMatches(
    candidates: Subscription[] | undefined,
    message: Envelope,
    into: Subscription[],
    skip: ReadonlySet<Subscription> | undefined,
  ): void {
    if (candidates === undefined) return
    for (const subscription of candidates) {
      if (!matchesSourceAndPriority(subscription.filter, message)) continue
      if (skip?.has(subscription)) continue
      if (subscription.acceptsByPredicate(message)) into.push(subscription)
    }
  }

  /** Updates the registry from a module's own ModuleReady, HealthCheck or Error; true when it did. */
  private observeRegistryMessage(message: Envelope): boolean {
    const { type, data } = message.payload as { type: string; data: unknown }
    if (type === 'ModuleReady') {
      this.registry.setStatus(data as string, ModuleStatus.Healthy)
      return true
    }
    if (type === 'HealthCheck') {
      const check = data as { moduleId: string; timestamp: Date }
      if (check.moduleId !== message.source) return false
      this.registry.recordHealthCheck(check.moduleId, check.timestamp)
      return true
    }
    if (type === 'Error') {
      const report = data as ErrorReport
      if (report.module !== message.source) return false
      this.registry.recordError(report.module, {
        errorType: report.errorType,
        message: report.message,
        at: report.timestamp,
      })
      return true
    }
    return false
  }

  private createSubscription(
    module: string,
    filter: unknown,
    mode: unknown,
    handler: MessageHandler,
    options: unknown,
    limits?: { maxInFlight: number; timeoutMs: number; endedByBus?: () => void },
  ): Subscription {
    if (!isModuleId(module))
      throw EventBusError.of('Configuration', { reason: `subscribe: ${notAModuleId(module)}` })
    const checked = checkSubscribeArguments(filter, mode, handler, options, this.validator.knows)
    return new Subscription(
      crypto.randomUUID(),
      module,
      checked.filter,
      checked.mode,
      handler,
      this,
      limits,
      checked.label,
    )
  }

  private index(subscription: Subscription): void {
    const types = subscription.filter.types
    if (types === undefined) this.anyType = [...this.anyType, subscription]
    // Arrays are replaced, never mutated, so a publish iterating one is never disturbed.
    else for (const type of types) this.byType.set(type, [...(this.byType.get(type) ?? []), subscription])
    this.subscriptionsChanged()
  }

  private unindex(subscription: Subscription): void {
    const types = subscription.filter.types
    if (types === undefined) this.anyType = this.anyType.filter((other) => other !== subscription)
    else {
      for (const type of types) {
        const remaining = (this.byType.get(type) ?? []).filter((other) => other !== subscription)
        if (remaining.length === 0) this.byType.delete(type)
        else this.byType.set(type, remaining)
      }
    }
    this.subscriptionsChanged()
  }

  private end(
    subscription: Subscription,
    reason: DeadLetterReason,
    abandonInFlight: boolean,
    awaitEndpointWord = false,
  ): void {
    if (this.subscriptions.delete(subscription.id)) {
      this.unindex(subscription)
      this.endReasons.set(subscription.id, reason)
      if (this.endReasons.size > REMEMBERED_END_REASONS)
        this.endReasons.delete(this.endReasons.keys().next().value as string)
    }
    subscription.close(reason, abandonInFlight, awaitEndpointWord)
    if (subscription.inFlight === 0) {
      this.closing.delete(subscription)
      this.retire(subscription)
    } else {
      this.closing.add(subscription)
    }
  }

  private retire(subscription: Subscription): void {
    subscription.latency.destroy()
  }

  private allIdle(): boolean {
    for (const subscription of this.subscriptions.values()) if (!subscription.isIdle) return false
    return this.closing.size === 0
  }

  private drain(timeoutMs: number): Promise<void> {
    if (this.allIdle()) return Promise.resolve()
    return new Promise((resolve) => {
      // Not before what came by then is read: an endpoint's ack waiting in a port settles its
      // delivery, which would otherwise be dead-lettered though it ran.
      const cancelTimeout = timeoutAfterInput(timeoutMs, finish)
      const self = this
      function finish() {
        cancelTimeout()
        self.drained = undefined
        resolve()
      }
      this.drained = finish
    })
  }

  /** Enqueues one dead letter again (see `deadLetterCommands`); returns why it could not be, if so. */
  private requeue(entry: DeadLetterEntry): string | undefined {
    const original = this.subscriptions.get(entry.subscriptionId)
    try {
      if (original !== undefined) {
        if (original.refusesMore) {
          return EventBusError.of('QueueFull', {
            currentSize: original.queueDepth,
            maxSize: this.config.maxQueueSize,
          }).message
        }
        original.enqueue(entry.message, monotonicMs())
        return undefined
      }
      const routed = this.route(entry.message, monotonicMs(), false)
      return routed.length === 0 ? 'no subscription matches the message any more; it stays here' : undefined
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
  }
}

/**
 * Creates a bus. Configuration comes from `options`, then the environment
 * (`SKELLY_EVENT_BUS_QUEUE_SIZE`, `SKELLY_EVENT_BUS_WORKERS`, `SKELLY_EVENT_BUS_TIMEOUT`), then defaults.
 * @throws EventBusError `Configuration` for an invalid value from code or environment
 */
export function createEventBus<X extends Catalog = Record<never, never>>(
  options: EventBusOptions<X> = {},
): EventBus<BuiltinCatalog & X> {
  return new Bus(options) as unknown as EventBus<BuiltinCatalog & X>
}

/** The same as {@link createEventBus}. */
export const createEventBusWithConfig = createEventBus

/** Resolves when `settling` does, or after `timeoutMs`, whichever comes first; at once without it. */
function within(settling: Promise<void> | undefined, timeoutMs: number): Promise<void> {
  if (settling === undefined) return Promise.resolve()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs)
  })
  return Promise.race([settling, timeout]).finally(() => clearTimeout(timer))
}
