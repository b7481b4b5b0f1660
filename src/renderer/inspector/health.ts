/** The bus's health rule, as the inspector applies it to a snapshot. */
import type {
  BusMetrics,
  ConnectionMetrics,
  RouteMetrics,
  SubscriptionMetrics,
} from '../../shared/metrics-snapshot.js'
import { perSecond } from './feeds.js'
import { count, counted } from './format.js'

const QUEUE_LIMIT_SHARE = 0.8
const P95_LIMIT_MS = 100

export interface Verdict {
  healthy: boolean
  /** What breaks the rule, or what holds. */
  reasons: string[]
}

/** A direct route as the inspector names it: "producer → consumer". */
export function routeName(route: Pick<RouteMetrics, 'producer' | 'consumer'>): string {
  return `${route.producer} → ${route.consumer}`
}

/** A queue bounded by `maxQueueSize`, and whose it is. */
export interface Queue {
  /** e.g. "storage's queue", "the data-capture → storage route's backlog" */
  owner: string
  depth: number
}

/**
 * The fullest queue: a subscription's, or the copies waiting at a direct route's producer, which
 * are that route's consumer's queue in all but place (the producer refuses past `maxQueueSize`
 * with QueueFull, as the bus does).
 */
export function fullestQueue(metrics: BusMetrics): Queue {
  let fullest: Queue = { owner: 'no queue', depth: 0 }
  for (const s of metrics.subscriptions) {
    if (s.queueDepth > fullest.depth) fullest = { owner: `${s.module}'s queue`, depth: s.queueDepth }
  }
  for (const route of metrics.routes) {
    if (route.queued > fullest.depth)
      fullest = { owner: `the ${routeName(route)} route's backlog`, depth: route.queued }
  }
  return fullest
}

/**
 * What the subscriptions' queue column cannot show: copies for a direct route's consumer wait at the
 * route's producer, not in the consumer's queue. Undefined while none wait.
 */
export function routeBacklogNote(metrics: BusMetrics): string | undefined {
  const waiting = metrics.routes.filter((route) => route.queued > 0)
  if (waiting.length === 0) return undefined
  const total = waiting.reduce((sum, route) => sum + route.queued, 0)
  const where = waiting.map(routeName).join(', ')
  return `${counted(total, 'copy waits', 'copies wait')} at direct routes' producers (${where}), outside these queues: see Routes.`
}

/** Whether `depth` is past the share of `maxQueueSize` the health rule allows. */
export function nearlyFull(depth: number, maxQueueSize: number): boolean {
  return depth >= QUEUE_LIMIT_SHARE * maxQueueSize
}

/**
 * Publishes refused with QueueFull between `previous` and `metrics`, per second, and whose full
 * queue refused them; undefined when none were (or there is no earlier snapshot).
 */
function refusals(metrics: BusMetrics, previous: BusMetrics | undefined): string | undefined {
  const refusedPerSecond = perSecond(previous, metrics, (snapshot) => snapshot.messagesQueueFull)
  if (previous === undefined || refusedPerSecond === 0) return undefined
  const before = new Map(previous.subscriptions.map((s) => [s.id, s.queueFull]))
  const owners = metrics.subscriptions
    .filter((s) => s.queueFull > (before.get(s.id) ?? 0))
    .map((s) => `${s.module}'s`)
  const whose = owners.length > 0 ? ` (${[...new Set(owners)].join(', ')})` : ''
  return `${count(refusedPerSecond)} publishes/s refused: a queue is full${whose}`
}

/**
 * The modules the registry holds Unhealthy (their process keeps dying) or Degraded (silent to
 * health checks), e.g. "storage is Unhealthy (restarted 7 times)". Starting and stopping are no
 * trouble: every module passes through them.
 */
function modulesInTrouble(metrics: BusMetrics): string[] {
  return metrics.registry.modules
    .filter((module) => module.status === 'Unhealthy' || module.status === 'Degraded')
    .map(({ moduleId, status, restarts = 0 }) => {
      const restarted = restarts > 0 ? ` (restarted ${counted(restarts, 'time')})` : ''
      return `${moduleId} is ${status}${restarted}`
    })
}

/**
 * Healthy while every queue is under 80 % of `maxQueueSize`, no publish is being refused for a full
 * queue (judged against `previous`, the snapshot before), every module is well and delivery p95 is
 * under 100 ms. A direct route's backlog can refuse publishes while it reads well under its bound
 * at each snapshot (its consumer drains it between refusals), so the refusals count on their own;
 * and a module whose process keeps dying moves no message, so no queue or latency shows it.
 */
export function verdict(metrics: BusMetrics, previous?: BusMetrics): Verdict {
  const reasons: string[] = []
  const fullest = fullestQueue(metrics)
  if (nearlyFull(fullest.depth, metrics.maxQueueSize)) {
    reasons.push(`${fullest.owner} holds ${fullest.depth} of ${metrics.maxQueueSize}`)
  }
  const refused = refusals(metrics, previous)
  if (refused !== undefined) reasons.push(refused)
  reasons.push(...modulesInTrouble(metrics))
  const p95 = metrics.recentLatency.count > 0 ? metrics.recentLatency.p95Ms : metrics.deliveryLatency.p95Ms
  if (p95 >= P95_LIMIT_MS) reasons.push(`delivery p95 is ${p95.toFixed(1)} ms`)
  return {
    healthy: reasons.length === 0,
    reasons:
      reasons.length > 0 ? reasons : ['queues under 80 %, nothing refused, modules well, p95 under 100 ms'],
  }
}

/** How far back failures and dead letters count as trouble, once the inspector has watched that long. */
export const TROUBLE_WINDOW_SECONDS = 30

/** The snapshot the recent-trouble judgements count from: the latest one TROUBLE_WINDOW_SECONDS old. */
function troubleBaseline(history: readonly { time: number; metrics: BusMetrics }[]): BusMetrics | undefined {
  const latest = history.at(-1)
  return latest && history.findLast((sample) => sample.time <= latest.time - TROUBLE_WINDOW_SECONDS)?.metrics
}

/** One attachment of an endpoint: a module attached again is another connection. */
const connectionKey = (connection: ConnectionMetrics) =>
  `${connection.module}@${connection.attachedAt.getTime()}`

/**
 * The connections that sent the hub frames it refused over the last TROUBLE_WINDOW_SECONDS (their
 * whole attachment until the inspector has watched that long), as "native-tracker (4 bad frames)":
 * an endpoint speaking the protocol wrong, which no queue or latency shows.
 */
export function misbehavingConnections(history: readonly { time: number; metrics: BusMetrics }[]): string[] {
  const connections = history.at(-1)?.metrics.connections ?? []
  const before = new Map(troubleBaseline(history)?.connections?.map((c) => [connectionKey(c), c.badFrames]))
  return connections.flatMap((connection) => {
    const recent = connection.badFrames - (before.get(connectionKey(connection)) ?? 0)
    return recent > 0 ? [`${connection.module} (${counted(recent, 'bad frame')})`] : []
  })
}

/** The counters `trouble` judges by what happened lately rather than by the state now. */
type Outcomes = Pick<SubscriptionMetrics, 'delivered' | 'failed' | 'deadLettered' | 'queueFull'>

const NOTHING_YET: Outcomes = { delivered: 0, failed: 0, deadLettered: 0, queueFull: 0 }

/**
 * What makes a subscription stand out, or undefined: its endpoint is away, its queue is filling,
 * nothing gets through, handlers are slow, or, over the last TROUBLE_WINDOW_SECONDS, its full queue
 * refused publishes, it failed without a single delivery, or it dead-lettered. A dead letter from
 * an hour ago is no trouble now, and a subscriber that worked for an hour and now fails every
 * message is. Until the history reaches that far back (the inspector just opened), a
 * subscription's whole life counts.
 */
export function troubleFinder(
  history: readonly { time: number; metrics: BusMetrics }[],
): (subscription: SubscriptionMetrics) => string | undefined {
  const latest = history.at(-1)
  const before = new Map<string, Outcomes>(troubleBaseline(history)?.subscriptions.map((s) => [s.id, s]))
  const maxQueueSize = latest?.metrics.maxQueueSize ?? Number.POSITIVE_INFINITY
  return (subscription) => {
    if (subscription.parked) return 'parked, endpoint away'
    if (nearlyFull(subscription.queueDepth, maxQueueSize)) return 'queue nearly full'
    if (subscription.queueDepth > 0 && subscription.inFlight > 0 && subscription.recentLatency.count === 0)
      return 'stuck'
    if (subscription.slowHandlers > 0 && subscription.recentLatency.p95Ms >= P95_LIMIT_MS)
      return 'slow handler'
    // A subscription the baseline does not know is younger than the window: all of it is recent.
    const earlier = before.get(subscription.id) ?? NOTHING_YET
    if (subscription.queueFull > earlier.queueFull) return 'full, refusing publishes'
    if (subscription.failed > earlier.failed && subscription.delivered === earlier.delivered) return 'failing'
    if (subscription.deadLettered > earlier.deadLettered) return 'dead-lettering'
    return undefined
  }
}
