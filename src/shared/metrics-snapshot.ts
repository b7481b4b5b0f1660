/**
 * The shape of `bus.metrics()`: one schema, so the core, the hub's metrics stream and the
 * inspector agree on it.
 */
import { z } from 'zod'
import { moduleInfoSchema, OverallHealth } from './registry-types.js'
import { subscriptionLabelSchema } from './subscribe-arguments.js'

const count = z.number().int().nonnegative()

/** The streams an inspecting endpoint may watch: metrics snapshots, and the tail of published messages. */
export const inspectorStreamNameSchema = z.enum(['metrics', 'tail'])
/** Delivery latency percentiles in milliseconds (microsecond resolution), from an HDR histogram. */
export const latencySummarySchema = z.object({
  p50Ms: z.number(),
  p95Ms: z.number(),
  p99Ms: z.number(),
  p999Ms: z.number(),
  maxMs: z.number(),
  meanMs: z.number(),
  /** Successful deliveries measured. */
  count,
})

/**
 * What became of a message's copies: delivered, failed, dropped, coalesced, retried,
 * dead-lettered; and the publishes refused because a queue was full.
 */
export const copyCountersSchema = z.object({
  delivered: count,
  failed: count,
  dropped: count,
  coalesced: count,
  retried: count,
  deadLettered: count,
  /**
   * Publishes refused with `QueueFull`: a matching subscription's queue (or a direct route's
   * backlog at its producer) was full, so the message went nowhere. For a module, those it
   * published; for a subscription, those its full queue refused. Not part of any copy's accounting.
   */
  queueFull: count,
})

/** What became of messages: published, routed to no one, and their copies' counters. */
export const countersSchema = copyCountersSchema.extend({
  published: count,
  /**
   * Publishes accepted that no subscription took: counted as published, delivered to no one (a
   * type nobody subscribes to, or not yet: its module is not running). For a module, those it
   * published. Not counted: a copy a direct route's producer sends the hub for the route's other
   * subscribers (the route delivered the message), and a module's own ModuleReady, HealthCheck or
   * Error, which the bus's registry takes.
   */
  unrouted: count,
})

/** One subscription's entry in `metrics().subscriptions`: its filter, mode, queue, counters and latency. */
export const subscriptionMetricsSchema = z.object({
  id: z.string(),
  module: z.string(),
  mode: z.enum(['BestEffort', 'Reliable', 'LatestOnly']),
  /** e.g. `types=[RawEvent] sources=* minPriority>=2 predicate` */
  filter: z.string(),
  /** What the subscription is for, when its subscriber said (`subscribe`'s `options.label`). */
  label: subscriptionLabelSchema.optional(),
  /** Pending copies plus copies waiting out a retry backoff. */
  queueDepth: count,
  inFlight: count,
  /** Whether the endpoint behind it is gone and its messages wait for it (hub subscriptions). */
  parked: z.boolean(),
  routed: count,
  // A subscription counts what becomes of its copies; publishes are the bus's, types' and modules'.
  ...copyCountersSchema.shape,
  slowHandlers: count,
  predicateErrors: count,
  latency: latencySummarySchema,
  /** Latency of the deliveries in the latest metrics interval, as the bus's own `recentLatency`. */
  recentLatency: latencySummarySchema,
})

/** A direct route the hub brokers between two endpoints (see the hub's `route`). */
export const routeMetricsSchema = z.object({
  id: z.string(),
  producer: z.string(),
  consumer: z.string(),
  types: z.array(z.string()),
  /**
   * `establishing`: a channel was handed out and its producer has not confirmed it yet, or the hub
   * waits (at most 2 s) for the subscriptions it serves to handle what the hub path still holds for
   * them, so publish order is kept; `active`: messages take the channel; `waiting`: for both sides
   * (or refused, see `reason`); `revoked`: for good.
   */
  state: z.enum(['establishing', 'active', 'waiting', 'revoked']),
  /** Why it is not active, when it is not. */
  reason: z.string().optional(),
  /** Times a channel was set up, and times one went down and traffic fell back to the hub. */
  established: count,
  fallbacks: count,
  /** Over the direct channels so far: deliveries routed, delivered, failed, dead-lettered, handed back. */
  routed: count,
  delivered: count,
  failed: count,
  deadLettered: count,
  handedBack: count,
  /**
   * Frames about the route's channels the hub refused from the route's own producer or consumer (a
   * report, hand-back, hold, release or dead letter it could not accept), and frames one of them
   * sent on a channel that the other could not read. Above 0, one of them misbehaves; the error
   * frames it was sent say how.
   */
  refused: count,
  /**
   * Deliveries over the route's channels per second in the last complete metrics interval (like
   * `throughputPerSec`); 0 once a whole interval passed without any.
   */
  deliveredPerSec: z.number().nonnegative(),
  /** Publishes the producer refused with `QueueFull`: its backlog was full (see `queued`). */
  queueFull: count,
  /** Copies waiting at the producer and in flight on the channel, as last reported. */
  queued: count,
  inFlight: count,
  /**
   * Deliveries the hub keeps for the route's channels, open and recently closed: failed ones while
   * the producer retries them, and those a closed channel's consumer had not settled yet (each
   * requeued should the ends that have it die).
   */
  held: count,
})

/**
 * An endpoint attached to the hub, as the hub sees it: who, over what, since when, and how it
 * fares. Windows, module processes and WebSocket clients alike.
 */
export const connectionMetricsSchema = z.object({
  /** The identity the main process bound to it. */
  module: z.string(),
  /** A MessagePort of any kind (Electron's, a worker's, a window's) or a WebSocket. */
  transport: z.enum(['port', 'websocket']),
  attachedAt: z.date(),
  /** Whether its hello came: until then it can do nothing. */
  greeted: z.boolean(),
  /** Its live subscriptions through the hub. */
  subscriptions: count,
  /** Deliveries the hub sent it that it has not yet acknowledged. */
  awaitingAck: count,
  /** Bytes the hub sent that have not yet left for it, where the transport tells (a WebSocket). */
  unsentBytes: count.optional(),
  /**
   * Frames the hub refused from it (malformed, out of order, not its own to send), and frames it
   * sent on a direct channel that the channel's other end could not read: above 0, it misbehaves.
   */
  badFrames: count,
  /** The streams it is watching. */
  watching: z.array(inspectorStreamNameSchema),
})

/** The whole `bus.metrics()` snapshot, which the hub streams to inspecting endpoints as well. */
export const busMetricsSchema = z.object({
  messagesPublished: count,
  messagesDelivered: count,
  messagesFailed: count,
  messagesDropped: count,
  messagesCoalesced: count,
  messagesRetried: count,
  messagesDeadLettered: count,
  /** Publishes refused because a queue was full (see the counters' `queueFull`). */
  messagesQueueFull: count,
  /** Publishes accepted that no subscription took (see the counters' `unrouted`). */
  messagesUnrouted: count,
  predicateErrors: count,
  currentQueueDepth: count,
  maxQueueSize: count,
  inFlight: count,
  deliveryLatency: latencySummarySchema,
  /**
   * Latency of the deliveries in the latest complete metrics interval (`metricsIntervalMs`; since
   * the start until one has passed): what latency-over-time charts plot. Every reader in an
   * interval gets the same, so a second inspector or a polling test does not split it.
   */
  recentLatency: latencySummarySchema,
  /** Successful deliveries per second over the last complete metrics interval. */
  throughputPerSec: z.number().nonnegative(),
  subscriptions: z.array(subscriptionMetricsSchema),
  /** Per module: `published` counts it as source, the rest as subscriber. */
  modules: z.record(z.string(), countersSchema),
  types: z.record(z.string(), countersSchema),
  /**
   * The dead-letter queue: entries held, its bound, those pushed out by newer ones, and `changes`,
   * the entries added and removed since the bus started (the list is unchanged while it is).
   */
  deadLetters: z.object({ size: count, capacity: count, evicted: count, changes: count }),
  /** The module registry: each module's status, last health check and restarts, and the verdict. */
  registry: z.object({ overall: z.enum(OverallHealth), modules: z.array(moduleInfoSchema) }),
  /** Direct routes brokered by the hub (empty without a hub or routes). */
  routes: z.array(routeMetricsSchema),
  /**
   * The share of the latest metrics interval the hub's thread was busy (its event loop's
   * utilization, 0 to 1): in the snapshots the hub streams to inspectors and in its points. Absent
   * from `bus.metrics()`, which knows no hub, and where the runtime does not measure it.
   */
  hubBusy: z.number().min(0).max(1).optional(),
  /**
   * The endpoints attached to the hub, in the order they attached: in the snapshots the hub streams
   * and answers to inspectors. Absent from `bus.metrics()`, which knows no hub.
   */
  connections: z.array(connectionMetricsSchema).optional(),
  uptimeMs: z.number().nonnegative(),
  collectedAt: z.date(),
})

/**
 * The fields of a metrics snapshot that charts plot over time. The hub keeps one each metrics
 * interval for two minutes, so an inspector opened now charts what came before it
 * (`metricsHistory()`).
 */
export const metricsPointSchema = busMetricsSchema
  .pick({
    collectedAt: true,
    messagesPublished: true,
    messagesDelivered: true,
    messagesFailed: true,
    messagesDropped: true,
    messagesDeadLettered: true,
    currentQueueDepth: true,
    inFlight: true,
    recentLatency: true,
    hubBusy: true,
  })
  .extend({
    /**
     * The subscriptions with copies queued or in flight, and how many, and those with deliveries
     * measured in the point's metrics interval, with their `recentLatency`; any other had none. So
     * a subscription's queue and latency can be charted from before a window opened at the cost
     * of the busy ones alone (a point carries the latency of `LATENCIES_PER_POINT` subscriptions at
     * most, the oldest first). Every point the hub keeps has it; a whole snapshot (whose
     * `subscriptions` say as much for all) does not.
     */
    busySubscriptions: z
      .array(
        subscriptionMetricsSchema
          .pick({ id: true, queueDepth: true, inFlight: true, recentLatency: true })
          .partial({ recentLatency: true }),
      )
      .optional(),
    /**
     * Publishes of each message type so far (a whole snapshot's `types[type].published`), so a
     * type's publish rate can be read against a point. Every point the hub keeps has it.
     */
    publishedByType: z.record(z.string(), count).optional(),
  })

/** `{ p50Ms, p95Ms, p99Ms, p999Ms, maxMs, meanMs, count }`; `count` is the successful deliveries measured. */
export type LatencySummary = z.infer<typeof latencySummarySchema>
/** Message counters, for the bus, one module or one message type. */
export type Counters = z.infer<typeof countersSchema>
/** What a subscription counts of the counters: what became of its copies. */
export type CopyCounters = z.infer<typeof copyCountersSchema>
/** One subscription's metrics; once quiet, `routed = delivered + dropped + coalesced + deadLettered`. */
export type SubscriptionMetrics = z.infer<typeof subscriptionMetricsSchema>
/** What `bus.metrics()` resolves to (BUS-API.md, *Metrics*). */
export type BusMetrics = z.infer<typeof busMetricsSchema>
/** One snapshot's charted fields, as `metricsHistory()` gives them; a `BusMetrics` is one too. */
export type MetricsPoint = z.infer<typeof metricsPointSchema>
/** `'metrics'` or `'tail'`: a stream an inspecting endpoint turns on with its `stream` frame. */
export type InspectorStreamName = z.infer<typeof inspectorStreamNameSchema>
/** One endpoint attached to the hub, as an inspector's snapshot lists it (`connections`). */
export type ConnectionMetrics = z.infer<typeof connectionMetricsSchema>
/** One direct route's entry in `metrics().routes`: its ends, state, channel counters and refusals. */
export type RouteMetrics = z.infer<typeof routeMetricsSchema>
