/**
 * Metrics snapshots made to order for the inspector's views, rendered in a DOM without a hub: a
 * quiet bus, and entries in which every figure differs, so a figure shown in another's column
 * shows.
 */
import { EMPTY_SUMMARY } from '../../src/main/bus/metrics.js'
import type {
  BusMetrics,
  ConnectionMetrics,
  MetricsPoint,
  RouteMetrics,
  SubscriptionMetrics,
} from '../../src/shared/metrics-snapshot.js'
import type { ModuleInfo } from '../../src/shared/registry-types.js'

/** A started bus that nothing used yet, collected at `collectedAt`, with `overrides` over it. */
export function quietSnapshot(overrides: Partial<BusMetrics> = {}): BusMetrics {
  return {
    messagesPublished: 0,
    messagesDelivered: 0,
    messagesFailed: 0,
    messagesDropped: 0,
    messagesCoalesced: 0,
    messagesRetried: 0,
    messagesDeadLettered: 0,
    messagesQueueFull: 0,
    messagesUnrouted: 0,
    predicateErrors: 0,
    currentQueueDepth: 0,
    maxQueueSize: 1000,
    inFlight: 0,
    deliveryLatency: EMPTY_SUMMARY,
    recentLatency: EMPTY_SUMMARY,
    throughputPerSec: 0,
    subscriptions: [],
    modules: {},
    types: {},
    deadLetters: { size: 0, capacity: 10_000, evicted: 0, changes: 0 },
    registry: { overall: 'Healthy', modules: [] },
    routes: [],
    connections: [],
    uptimeMs: 60_000,
    collectedAt: new Date('2026-12-07T12:00:00Z'),
    ...overrides,
  }
}

/** A direct route DataCapture → Storage for RawEvent, active, every count differing from the others. */
export function routeEntry(overrides: Partial<RouteMetrics> = {}): RouteMetrics {
  return {
    id: 'route-1',
    producer: 'data-capture',
    consumer: 'storage',
    types: ['RawEvent'],
    state: 'active',
    established: 3,
    fallbacks: 2,
    routed: 1300,
    delivered: 1234,
    failed: 5,
    deadLettered: 4,
    handedBack: 6,
    refused: 0,
    deliveredPerSec: 12.5,
    queueFull: 0,
    queued: 7,
    inFlight: 8,
    held: 9,
    ...overrides,
  }
}

/** An endpoint attached over a port, greeted, with every count differing from the others. */
export function connectionEntry(overrides: Partial<ConnectionMetrics> = {}): ConnectionMetrics {
  return {
    module: 'storage',
    transport: 'port',
    attachedAt: new Date('2026-12-07T11:58:00Z'),
    greeted: true,
    subscriptions: 2,
    awaitingAck: 3,
    badFrames: 0,
    watching: [],
    ...overrides,
  }
}

/** A BestEffort subscription of `module` to RawEvent, idle, every count differing from the others. */
export function subscriptionEntry(overrides: Partial<SubscriptionMetrics> = {}): SubscriptionMetrics {
  return {
    id: 'sub-1',
    module: 'storage',
    mode: 'BestEffort',
    filter: 'types=[RawEvent] sources=*',
    queueDepth: 0,
    inFlight: 0,
    parked: false,
    routed: 100,
    delivered: 90,
    failed: 2,
    dropped: 3,
    coalesced: 0,
    retried: 1,
    deadLettered: 0,
    queueFull: 0,
    slowHandlers: 0,
    predicateErrors: 0,
    latency: EMPTY_SUMMARY,
    recentLatency: EMPTY_SUMMARY,
    ...overrides,
  }
}

/** What a module published and what became of the copies delivered to it, every count differing. */
export function countersEntry(
  overrides: Partial<BusMetrics['modules'][string]> = {},
): BusMetrics['modules'][string] {
  return {
    published: 500,
    unrouted: 40,
    delivered: 300,
    failed: 6,
    dropped: 7,
    coalesced: 8,
    retried: 9,
    deadLettered: 10,
    queueFull: 11,
    ...overrides,
  }
}

/** `moduleId`'s registry entry: Healthy, registered at 11:55, checked at 11:59:50. */
export function moduleEntry(moduleId: string, overrides: Partial<ModuleInfo> = {}): ModuleInfo {
  return {
    moduleId,
    status: 'Healthy',
    registeredAt: new Date('2026-12-07T11:55:00Z'),
    lastHealthCheck: new Date('2026-12-07T11:59:50Z'),
    ...overrides,
  }
}

/** A point the hub kept at `collectedAt` (no subscription busy), with each type's publishes so far. */
export function hubPoint(collectedAt: Date, publishedByType: Record<string, number>): MetricsPoint {
  const { messagesPublished, messagesDelivered, messagesFailed, messagesDropped, messagesDeadLettered } =
    quietSnapshot()
  return {
    collectedAt,
    messagesPublished,
    messagesDelivered,
    messagesFailed,
    messagesDropped,
    messagesDeadLettered,
    currentQueueDepth: 0,
    inFlight: 0,
    recentLatency: EMPTY_SUMMARY,
    busySubscriptions: [],
    publishedByType,
  }
}
