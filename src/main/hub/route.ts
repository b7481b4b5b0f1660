/**
 * A direct route as the hub keeps it: the spec the main process declares, the route with its state
 * and counts, and the channel (one port pair's life) that carries it while both ends are attached.
 * The route table (`routes.ts`) drives them; what the hub holds for a channel is `channel-custody.ts`'s.
 */
import { z } from 'zod'
import { moduleIdSchema } from '../../shared/catalog.js'
import { monotonicMs } from '../../shared/clock.js'
import type { EventBusError } from '../../shared/errors.js'
import type { Envelope } from '../../shared/message.js'
import type { RouteMetrics } from '../../shared/metrics-snapshot.js'
import type { ChannelOutcomes, DirectCounts, DirectTerms, HubFrame, Permissions } from '../../shared/wire.js'
import { WindowedRate } from '../bus/metrics.js'
import type { Subscription } from '../bus/subscription.js'
import { RecentIds } from './recent-ids.js'

/** A route the main process declares: `producer`'s messages of `types` go straight to `consumer`. */
export const routeSpecSchema = z
  .object({
    producer: moduleIdSchema,
    consumer: moduleIdSchema,
    types: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(64)
      .refine((types) => new Set(types).size === types.length, 'lists a type more than once'),
    /** Which of the consumer's subscriptions the route serves; both kinds when absent (never LatestOnly). */
    mode: z.enum(['BestEffort', 'Reliable']).optional(),
  })
  .strict()
/**
 * A direct route's declaration (`hub.route(spec)`): `producer`'s messages of `types` go to
 * `consumer`'s subscriptions of `mode` (both when absent) over a channel of their own.
 */
export type RouteSpec = z.infer<typeof routeSpecSchema>

/** A route's declaration whose types are a catalog's (`T`): a misspelt type fails to compile. */
export type RouteSpecOf<T extends string> = Omit<RouteSpec, 'types'> & { types: readonly T[] }

/** A declared route, as the main process sees it. */
export interface DirectRoute extends Readonly<Omit<RouteSpec, 'types'>> {
  /** The routed types, frozen: the hub matches reports and copies against them. */
  readonly types: readonly string[]
  /** The route's id, as `metrics().routes` and the inspector name it. */
  readonly id: string
  /** `establishing`, `active`, `waiting` (an end is away: its traffic takes the hub path) or `revoked`. */
  readonly state: RouteMetrics['state']
  /** Why it is not active, when it is not. */
  readonly reason: string | undefined
  /** Withdraws the route for good: traffic goes through the hub, nothing unacknowledged is lost. */
  revoke(reason?: string): void
}

/** A pair of entangled ports; each end is transferred to one endpoint. */
export interface PortPair {
  /** The end transferred to the producer. */
  port1: unknown
  /** The end transferred to the consumer. */
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
  /**
   * Frames this endpoint sent on a direct channel that the channel's other end could not read:
   * they count among its bad frames, and `error` tells it why.
   */
  sentUnreadable(count: number, error: EventBusError): void
  /** The endpoint's live hub subscriptions with the handler timeout it enforces. */
  remoteSubscriptions(): Iterable<{ subscription: Subscription; handlerTimeoutMs: number }>
}

/** Deliveries a direct channel may have in flight (the consumer queues beyond its concurrency). */
export const DIRECT_WINDOW = 1024

/** What a route asks of the table that keeps it. */
export interface RouteKeeper {
  revoke(route: Route, reason: string): void
  /** Deliveries the hub keeps for the channels of `route`, open and recently closed. */
  heldFor(route: Route): number
}

export interface Channel {
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
   * Deliveries (by {@link deliveryKey}) whose delivery over the channel ended with the hub: handed
   * back by the producer or requeued from `held` and `orphans`, those it dead-lettered before the
   * consumer's hold of them arrived, and those the consumer handled in the hub's custody. None is
   * taken again. Bounded (twice what the channel can have unsettled: see
   * {@link ChannelCustody.mostUnsettled}), so that a lying endpoint cannot grow it; past that the
   * oldest are forgotten.
   */
  readonly settled: RecentIds
  /** Copies the producer handed back (at most {@link ChannelCustody.mostUnsettled}). */
  handedBackByProducer: number
  /**
   * Deliveries the consumer failed after the channel closed, by {@link deliveryKey}, held while the
   * producer is attached: it hands back what it had unacknowledged, these included.
   */
  readonly orphans: Map<string, Orphan>
  /**
   * Reliable deliveries whose first attempt failed, by {@link deliveryKey}: the consumer gives them
   * to the hub before the producer retries them, and they are kept until a retry succeeds (the
   * consumer releases them), the producer dead-letters or hands them back, or requeued if it goes
   * first.
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

export class Route implements DirectRoute {
  readonly producer: string
  readonly consumer: string
  readonly types: readonly string[]
  readonly mode: RouteSpec['mode']
  state: RouteMetrics['state'] = 'waiting'
  /** Set as the route is declared (see RouteTable.establish). */
  reason: string | undefined
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
    queueFull: 0,
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
    private readonly keeper: RouteKeeper,
    rateWindowMs: number,
  ) {
    this.producer = spec.producer
    this.consumer = spec.consumer
    this.types = Object.freeze([...spec.types])
    this.mode = spec.mode
    this.deliveries = new WindowedRate(rateWindowMs, monotonicMs())
  }

  revoke(reason = 'revoked by the main process'): void {
    this.keeper.revoke(this, reason)
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
      held: this.keeper.heldFor(this),
    }
  }
}

/** What a new channel starts from: its ends and its first terms, covering `covered`. */
export interface ChannelOpening {
  readonly id: string
  readonly route: Route
  readonly producer: RouteEndpoint
  readonly consumer: RouteEndpoint
  readonly terms: DirectTerms
  readonly covered: Set<Subscription>
  /** How many settled deliveries the channel remembers, given the subscriptions it serves. */
  readonly settledCapacity: (served: ReadonlyMap<string, boolean>) => number
}

/**
 * A channel as its route table opens it: serving its first terms' targets, with nothing held,
 * reported, settled or confirmed yet.
 */
export function newChannel({ settledCapacity, covered, ...opening }: ChannelOpening): Channel {
  const served = new Map(opening.terms.targets.map((target) => [target.sid, target.reliable]))
  return {
    ...opening,
    covered: new Map([[opening.terms.seq, covered]]),
    served,
    settled: new RecentIds(settledCapacity(served)),
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
}

/** The key of a subscription's counts of one type. */
export function countsKey(sid: string, type: string): string {
  return `${sid}\u0000${type}`
}

/**
 * The key of one delivery of a channel: its subscription and its message. A channel serving several
 * of its consumer's subscriptions carries a copy of a message to each, and each copy is settled,
 * held or requeued on its own: keyed by the message alone, the first would stand for them all.
 */
export function deliveryKey(sid: string, messageId: string): string {
  return `${sid}\u0000${messageId}`
}

/** A delivery of a channel the hub may have to requeue for its producer. */
export interface Orphan {
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
