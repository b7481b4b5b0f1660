/**
 * What the hub (and only the hub) needs from the bus beyond its public API: subscriptions whose
 * handler runs behind a port, which can be parked while their endpoint is away and resumed when
 * it returns, and a tap on routed messages for the inspector's tail. Reached through a symbol so
 * it stays out of the public surface.
 */

import type { DeadLetterReason } from '../../shared/dead-letter.js'
import type { DeliveryMode } from '../../shared/delivery-mode.js'
import type { PlainFilter } from '../../shared/filter.js'
import type { Envelope } from '../../shared/message.js'
import type { MetricsPoint, RouteMetrics } from '../../shared/metrics-snapshot.js'
import type { DirectCounts, LatencyTallyReport, PriorAttempts } from '../../shared/wire.js'
import type { MessageHandler, Subscription } from './subscription.js'

export const busInternals: unique symbol = Symbol('skelly.bus.internals')

/**
 * How long a bus that ended its subscriptions at shutdown waits for deliveries outside its queues
 * to be accounted for: endpoints answer at once what they hold for an ended subscription, and a
 * withdrawn direct channel hands back what is left after one second, so this bounds only a peer
 * that stopped answering.
 */
export const OUTSIDE_SETTLE_MS = 2000

export interface RemoteSubscriptionOptions {
  /** Deliveries sent to the endpoint and not yet acknowledged (its credit window). */
  maxInFlight: number
  /** The hub-side bound on an unacknowledged delivery (the endpoint enforces the handler's own). */
  timeoutMs: number
  /** Called when the bus itself ends the subscription (its shutdown), not the hub. */
  endedByBus?: () => void
  /** What the endpoint says the subscription is for (`subscribe`'s `options.label`). */
  label?: string
}

/** Called for every accepted publish with the number of subscriptions it was routed to. */
export type RouteTap = (message: Envelope, routedTo: number) => void

/** A dead letter from outside the core (a direct channel's producer gave up on a delivery). */
export interface ExternalDeadLetter {
  message: Envelope
  subscriptionId: string
  module: string
  reason: DeadLetterReason
  attempts: number
  lastError?: string
  firstFailedAt: Date
  /** Whether the bus's counters already include it (a direct channel's report counted it). */
  counted: boolean
}

export interface BusInternals {
  /**
   * `publish` without the promise: returns the id or throws the EventBusError. Subscriptions in
   * `skip` are left out (a direct channel already delivered to them).
   */
  publish(message: Envelope, skip?: ReadonlySet<Subscription>): string
  /**
   * `publish` for a request: returns how many subscriptions took the message (those of module
   * `from` alone, when given), so that a request nothing could answer is refused at once. `skip`
   * as for `publish`: those a direct channel serves are neither delivered to nor counted.
   */
  publishRequest(message: Envelope, from: string | undefined, skip?: ReadonlySet<Subscription>): number
  /** Live subscriptions whose filter can match `type` (listing it, or listing no types). */
  subscribersOf(type: string): readonly Subscription[]
  /** Calls `listener` after any subscription is added or ended (in process or remote). */
  onSubscriptionsChanged(listener: () => void): void
  /**
   * Calls `listener` as `shutdown` begins, and again once the bus has ended its subscriptions. Each
   * time it returns what settles once the deliveries outside the bus's own queues (direct channels)
   * are accounted for, or nothing when they are. The drain waits for the first (within its timeout)
   * before it waits for the queues; the second is waited for at most {@link OUTSIDE_SETTLE_MS}.
   */
  onShutdown(listener: () => Promise<void> | undefined): void
  /**
   * The charted fields of a snapshot, now, with the busy subscriptions' queues and the publishes
   * of each type, without reading any subscription's latency (cheap).
   */
  metricsPoint(): MetricsPoint
  /** The live subscription with this id, if any. */
  find(subscriptionId: string): Subscription | undefined
  /**
   * Why the subscription with this id ended (`Unsubscribed`, `SubscriberUnavailable`, `Shutdown`),
   * if it ended recently; undefined for a live one or one long gone.
   */
  endReason(subscriptionId: string): DeadLetterReason | undefined
  /**
   * Checks `message` as `publish` would, without routing it.
   * @throws EventBusError `MessageRejected`
   */
  validate(message: Envelope): void
  /**
   * Validates `message` and queues it again for `subscription` (a direct channel's unacknowledged
   * copy, already counted as published and routed), going on from the attempts that failed over the
   * channel (`prior`), if any.
   * @throws EventBusError `MessageRejected`
   */
  handBack(message: Envelope, subscription: Subscription, prior?: PriorAttempts): void
  /** Counts messages published over a direct channel only (the hub never saw them). */
  recordDirectPublished(type: string, source: string, count: number): void
  /**
   * Counts publishes of `type` by `source` a direct channel's producer refused because its backlog
   * for `subscription` (which may have ended since) was full.
   */
  recordDirectQueueFull(
    type: string,
    source: string,
    subscription: Subscription | undefined,
    count: number,
  ): void
  /**
   * Counts a direct channel's outcomes for one message type: in `subscription` when it still
   * exists, in the bus's and `subscriber` module's counters either way.
   */
  recordDirect(subscription: Subscription | undefined, counts: DirectCounts, subscriber: string): void
  /** Records the latencies of a direct channel's deliveries to `subscription`, as its producer tallied them. */
  recordDirectLatency(subscription: Subscription | undefined, latency: LatencyTallyReport): void
  /**
   * Adds a dead letter that arose outside the core; the message is validated first, since a replay
   * would deliver it.
   * @throws EventBusError `MessageRejected`
   */
  deadLetter(entry: ExternalDeadLetter): void
  /** Sets where `metrics().routes` comes from (the hub's direct routes). */
  setRoutes(source: () => RouteMetrics[]): void
  subscribeRemote(
    module: string,
    filter: PlainFilter,
    mode: DeliveryMode,
    handler: MessageHandler,
    options: RemoteSubscriptionOptions,
  ): Subscription
  /**
   * Ends a subscription: what it holds is dead-lettered with `reason` (Reliable) or dropped; so are
   * its deliveries in flight, unless `inFlightSettle` (they may still settle and count, as after
   * `unsubscribe` in process).
   */
  end(subscription: Subscription, reason: DeadLetterReason, inFlightSettle?: boolean): void
  /** Sets (or clears) the one tap on accepted publishes. */
  setRouteTap(tap: RouteTap | undefined): void
  /**
   * Shows on the route tap a message a direct channel carried; nothing without a tap. The caller
   * has validated it (it comes from an endpoint).
   */
  tapDirect(message: Envelope, routedTo: number): void
}

export interface WithInternals {
  readonly [busInternals]: BusInternals
}
