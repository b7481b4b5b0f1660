/** The bus's health rule, as the inspector applies it to a snapshot. */
import type { BusMetrics } from '../../shared/metrics-snapshot.js'

export const QUEUE_LIMIT_SHARE = 0.8
export const P95_LIMIT_MS = 100

export interface Verdict {
  healthy: boolean
  /** What breaks the rule, or what holds. */
  reasons: string[]
}

/** Healthy while every queue is under 80 % of `maxQueueSize` and delivery p95 is under 100 ms. */
export function verdict(metrics: BusMetrics): Verdict {
  const reasons: string[] = []
  const fullest = metrics.subscriptions.reduce((worst, s) => (s.queueDepth > worst.queueDepth ? s : worst), {
    queueDepth: 0,
    module: '',
  })
  if (fullest.queueDepth >= QUEUE_LIMIT_SHARE * metrics.maxQueueSize) {
    reasons.push(`${fullest.module}'s queue holds ${fullest.queueDepth} of ${metrics.maxQueueSize}`)
  }
  const p95 = metrics.recentLatency.count > 0 ? metrics.recentLatency.p95Ms : metrics.deliveryLatency.p95Ms
  if (p95 >= P95_LIMIT_MS) reasons.push(`delivery p95 is ${p95.toFixed(1)} ms`)
  return {
    healthy: reasons.length === 0,
    reasons: reasons.length > 0 ? reasons : ['queues under 80 %, p95 under 100 ms'],
  }
}

/** How far back failures and dead letters count as trouble, once the inspector has watched that long. */
export const TROUBLE_WINDOW_SECONDS = 30

type SubscriptionMetrics = BusMetrics['subscriptions'][number]

/** The counters `trouble` judges by what happened lately rather than by the state now. */
type Outcomes = Pick<SubscriptionMetrics, 'delivered' | 'failed' | 'deadLettered'>

const NOTHING_YET: Outcomes = { delivered: 0, failed: 0, deadLettered: 0 }

/**
 * What makes a subscription stand out, or undefined: its endpoint is away, its queue is filling,
 * nothing gets through, handlers are slow, or, over the last TROUBLE_WINDOW_SECONDS, it failed
 * without a single delivery or dead-lettered. A dead letter from an hour ago is no trouble now,
 * and a subscriber that worked for an hour and now fails every message is. Until the history
 * reaches that far back (the inspector just opened), a subscription's whole life counts.
 */
export function troubleFinder(
  history: readonly { time: number; metrics: BusMetrics }[],
): (subscription: SubscriptionMetrics) => string | undefined {
  const latest = history.at(-1)
  const baseline =
    latest && history.findLast((sample) => sample.time <= latest.time - TROUBLE_WINDOW_SECONDS)?.metrics
  const before = new Map<string, Outcomes>(baseline?.subscriptions.map((s) => [s.id, s]))
  const maxQueueSize = latest?.metrics.maxQueueSize ?? Number.POSITIVE_INFINITY
  return (subscription) => {
    if (subscription.parked) return 'endpoint away (parked)'
    if (subscription.queueDepth >= QUEUE_LIMIT_SHARE * maxQueueSize) return 'queue nearly full'
    if (subscription.queueDepth > 0 && subscription.inFlight > 0 && subscription.recentLatency.count === 0)
      return 'stuck'
    if (subscription.slowHandlers > 0 && subscription.recentLatency.p95Ms >= P95_LIMIT_MS)
      return 'slow handler'
    // A subscription the baseline does not know is younger than the window: all of it is recent.
    const earlier = before.get(subscription.id) ?? NOTHING_YET
    if (subscription.failed > earlier.failed && subscription.delivered === earlier.delivered) return 'failing'
    if (subscription.deadLettered > earlier.deadLettered) return 'dead-lettering'
    return undefined
  }
}
