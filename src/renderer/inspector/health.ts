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

/** A subscription that stands out: its queue is filling, nothing gets through, or handlers are slow. */
export function trouble(
  subscription: BusMetrics['subscriptions'][number],
  maxQueueSize: number,
): string | undefined {
  if (subscription.parked) return 'endpoint away (parked)'
  if (subscription.queueDepth >= QUEUE_LIMIT_SHARE * maxQueueSize) return 'queue nearly full'
  if (subscription.queueDepth > 0 && subscription.inFlight > 0 && subscription.recentLatency.count === 0)
    return 'stuck'
  if (subscription.slowHandlers > 0 && subscription.recentLatency.p95Ms >= P95_LIMIT_MS) return 'slow handler'
  if (subscription.failed > 0 && subscription.delivered === 0) return 'failing'
  if (subscription.deadLettered > 0) return 'dead-lettering'
  return undefined
}
