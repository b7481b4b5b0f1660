/** What a session needs from its hub. */
import type { BusMetrics } from '../../shared/metrics-snapshot.js'
import type { EventBus } from '../bus/index.js'
import type { BusInternals } from '../bus/internal.js'
import type { Subscription } from '../bus/subscription.js'
import type { InspectorStreams } from './inspector-streams.js'
import type { MetricsFeed } from './metrics-feed.js'
import type { RouteTable } from './routes.js'

export interface HubCore {
  readonly bus: EventBus
  readonly internals: BusInternals
  readonly heartbeatMs: number
  /** Deliveries a BestEffort subscription may have unacknowledged at its endpoint. */
  readonly bestEffortWindow: number
  /** Deliveries a Reliable subscription may have unacknowledged at its endpoint. */
  readonly reliableWindow: number
  /** Subscriptions one attachment may hold at once. */
  readonly maxSubscriptionsPerAttachment: number
  /** Direct routes between endpoints. */
  readonly routeTable: RouteTable
  /** The metrics snapshots streamed to inspecting endpoints, and the last two minutes of them. */
  readonly metricsFeed: MetricsFeed
  /** The bus's metrics snapshot with the hub's connections, as an inspector asks for it. */
  metrics(): Promise<BusMetrics>
  /** The streams of the sessions watching the message tail. */
  readonly tails: Set<InspectorStreams>
  /** Installs the bus's route tap while any session streams the tail, removes it otherwise. */
  updateTap(): void
  /** Holds a Reliable subscription of a lost endpoint for the grace period. */
  park(module: string, key: string, subscription: Subscription): void
  /**
   * Takes back a parked subscription with this identity, filter and mode, if there is one: the
   * one with id `subscriptionId` when given (and no other), else the first parked.
   */
  claimParked(module: string, key: string, subscriptionId?: string): Subscription | undefined
  /**
   * Ends `module`'s parked subscription `subscriptionId` as unsubscribed (an endpoint whose
   * connection dropped as it unsubscribed asks again on its next one); false if none is parked.
   */
  endParked(module: string, subscriptionId: string): boolean
  /**
   * Whether a connection of `module` that ended took the publish with message id `id` (among the
   * last publishes each of its last few connections that said `again` in their hello took: see
   * taken-ids).
   */
  tookBefore(module: string, id: string): boolean
}
