/** Overview: rates, queue depth against its bound, in-flight, health, and the charts over time. */

import type { MetricsPoint } from '../../shared/metrics-snapshot.js'
import { Chart, SERIES_COLORS } from './Chart.js'
import { type ChartPoint, chartPoints, type Sample } from './feeds.js'
import { count, counted, millis, rate } from './format.js'
import { fullestQueue, misbehavingConnections, troubleFinder, verdict } from './health.js'
import { TypeTraffic } from './TypeTraffic.js'

/** Subscriptions (or connections) in trouble named in the verdict line; their views list them all. */
const MAX_NAMED = 3
/**
 * From this share of an interval busy, the hub's thread is said to set the pace: messages through
 * it wait for it, whatever the bus's own rule says.
 */
const HUB_SATURATED = 0.9

/**
 * `history`: the snapshots this window received; `past`: the hub's points from before it opened,
 * which the charts start with.
 */
export function Overview({ history, past }: { history: Sample[]; past: MetricsPoint[] }) {
  const latest = history.at(-1)
  if (!latest) return <p class="empty">Waiting for the first metrics snapshot…</p>
  const { metrics } = latest
  const points = chartPoints(past, history)
  // The latest snapshot is the last point: its rates are since the point before, the hub's own if
  // this is the first snapshot received.
  const { rates } = points.at(-1) as ChartPoint
  const health = verdict(metrics, history.at(-2)?.metrics)
  // The verdict is the bus's rule (queues, refusals, p95); a subscription in trouble is named beside it,
  // so a failing subscriber does not hide behind "Healthy".
  const trouble = troubleFinder(history)
  const troubled = metrics.subscriptions.flatMap((s) => {
    const issue = trouble(s)
    return issue === undefined ? [] : [`${s.module} (${issue})`]
  })
  const misbehaving = misbehavingConnections(history)
  const fullest = fullestQueue(metrics)
  const times = points.map((p) => p.time)
  const latency = (pick: (p: ChartPoint) => number) =>
    points.map((p) => (p.metrics.recentLatency.count > 0 ? pick(p) : null))
  const kpis: [string, string, string, string][] = [
    ['published', rate(rates.published), `${count(metrics.messagesPublished)} total`, 'kpi-published'],
    ['delivered', rate(rates.delivered), `${count(metrics.messagesDelivered)} total`, 'kpi-delivered'],
    ['failed', rate(rates.failed), `${count(metrics.messagesFailed)} total`, 'kpi-failed'],
    ['dropped', rate(rates.dropped), `${count(metrics.messagesDropped)} total`, 'kpi-dropped'],
    ['dead-lettered', rate(rates.deadLettered), `${count(metrics.deadLetters.size)} held`, 'kpi-dead'],
    [
      'in flight',
      count(metrics.inFlight),
      counted(metrics.subscriptions.length, 'subscription'),
      'kpi-inflight',
    ],
  ]
  return (
    <div class="overview">
      <section class={`verdict ${health.healthy ? 'ok' : 'bad'}`} data-testid="verdict">
        <strong>{health.healthy ? 'Healthy' : 'Degraded'}</strong>
        <span>{health.reasons.join(' · ')}</span>
        {troubled.length > 0 && (
          <span class="trouble-note" data-testid="verdict-trouble">
            {counted(troubled.length, 'subscription')} in trouble: {troubled.slice(0, MAX_NAMED).join(', ')}
            {troubled.length > MAX_NAMED
              ? ` and ${troubled.length - MAX_NAMED} more (Subscriptions view)`
              : ''}
          </span>
        )}
        {misbehaving.length > 0 && (
          <span class="trouble-note" data-testid="verdict-bad-frames">
            {counted(misbehaving.length, 'connection')} sending frames the hub refuses:{' '}
            {misbehaving.slice(0, MAX_NAMED).join(', ')}
            {misbehaving.length > MAX_NAMED ? ` and ${misbehaving.length - MAX_NAMED} more` : ''} (Connections
            view)
          </span>
        )}
        {metrics.hubBusy !== undefined && metrics.hubBusy >= HUB_SATURATED && (
          <span class="trouble-note" data-testid="verdict-hub-busy">
            the hub's thread was {Math.round(metrics.hubBusy * 100)} % busy: it sets the pace of every message
            through it
          </span>
        )}
      </section>
      <section class="kpis">
        {kpis.map(([label, value, detail, testId]) => (
          <article class="kpi" key={label} data-testid={testId}>
            <h3>{label}</h3>
            <p class="value">{value}</p>
            <p class="detail" data-testid={`${testId}-total`}>
              {detail}
            </p>
          </article>
        ))}
        <article class="kpi queue" data-testid="kpi-queue">
          <h3>queue depth</h3>
          <p class="value">{count(metrics.currentQueueDepth)}</p>
          <div class="bar" title={`fullest: ${fullest.owner}, ${fullest.depth} of ${metrics.maxQueueSize}`}>
            <div style={{ width: `${Math.min(100, (fullest.depth / metrics.maxQueueSize) * 100)}%` }} />
          </div>
          <p class="detail">
            fullest {count(fullest.depth)} / {count(metrics.maxQueueSize)}
          </p>
        </article>
        <article class="kpi" data-testid="kpi-p95">
          <h3>p95 now</h3>
          {/* No delivery in the last interval has no latency: a dash, as in the subscriptions table. */}
          <p class="value">{metrics.recentLatency.count > 0 ? millis(metrics.recentLatency.p95Ms) : '–'}</p>
          {/* Wraps rather than cut: the narrowest card of the row at 1280 px holds ~17 characters. */}
          <p class="detail wraps">p99.9 {millis(metrics.deliveryLatency.p999Ms)} overall</p>
        </article>
      </section>
      <section class="module-strip" data-testid="module-strip">
        <span class="muted">modules</span>
        {metrics.registry.modules.map((module) => (
          <span key={module.moduleId} class={`pill status-${module.status}`} title={module.status}>
            {module.moduleId}
            {module.restarts ? ` ↻${module.restarts}` : ''}
          </span>
        ))}
      </section>
      <section class="charts">
        <Chart
          title="Delivery latency (per interval)"
          testId="chart-latency"
          times={times}
          format={millis}
          minimumTop={1}
          series={[
            { label: 'p50', color: SERIES_COLORS.p50, values: latency((p) => p.metrics.recentLatency.p50Ms) },
            { label: 'p95', color: SERIES_COLORS.p95, values: latency((p) => p.metrics.recentLatency.p95Ms) },
            { label: 'p99', color: SERIES_COLORS.p99, values: latency((p) => p.metrics.recentLatency.p99Ms) },
            {
              label: 'p99.9',
              color: SERIES_COLORS.p999,
              values: latency((p) => p.metrics.recentLatency.p999Ms),
            },
          ]}
        />
        <Chart
          title="Throughput"
          testId="chart-throughput"
          times={times}
          format={rate}
          minimumTop={1}
          series={[
            { label: 'published', color: SERIES_COLORS.p50, values: points.map((p) => p.rates.published) },
            { label: 'delivered', color: SERIES_COLORS.queue, values: points.map((p) => p.rates.delivered) },
            { label: 'failed', color: SERIES_COLORS.p99, values: points.map((p) => p.rates.failed) },
          ]}
        />
        <Chart
          title="Queue depth and in flight"
          testId="chart-queue"
          times={times}
          format={count}
          minimumTop={4}
          series={[
            {
              label: 'queued',
              color: SERIES_COLORS.queue,
              values: points.map((p) => p.metrics.currentQueueDepth),
            },
            {
              label: 'in flight',
              color: SERIES_COLORS.flight,
              values: points.map((p) => p.metrics.inFlight),
            },
          ]}
        />
      </section>
      <TypeTraffic current={metrics} previous={points.at(-2)?.metrics} />
    </div>
  )
}
