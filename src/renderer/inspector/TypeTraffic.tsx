/**
 * Traffic by message type: which types flow, how fast, how many publishes no subscription took,
 * what became of their copies (delivered, failed, retried, dropped, coalesced, dead-lettered) and
 * how many publishes a full queue refused, busiest first. The totals are the snapshot's `types`; the rate is the difference from the
 * chart point before it: the snapshot before, or the hub's point where the window received none (on
 * opening, and after time away).
 */
import type { BusMetrics, MetricsPoint } from '../../shared/metrics-snapshot.js'
import { perSecond, publishedOf } from './feeds.js'
import { count, rate } from './format.js'

const COUNTERS = [
  'unrouted',
  'delivered',
  'failed',
  'retried',
  'dropped',
  'coalesced',
  'deadLettered',
  'queueFull',
] as const
type Counter = (typeof COUNTERS)[number]
const HEADINGS: Record<Counter, string> = {
  unrouted: 'to no one',
  delivered: 'delivered',
  failed: 'failed',
  retried: 'retried',
  dropped: 'dropped',
  coalesced: 'coalesced',
  deadLettered: 'dead-lettered',
  queueFull: 'refused (full)',
}
/**
 * Counts that stand out when above 0: copies that failed or were lost, and publishes refused
 * (coalescing is LatestOnly's job; a publish nobody subscribes to is the publisher's choice, and
 * the column says so plainly for whoever looks for a missing subscriber).
 */
const WARNS: ReadonlySet<Counter> = new Set(['failed', 'retried', 'dropped', 'deadLettered', 'queueFull'])

export function TypeTraffic({
  current,
  previous,
}: {
  current: BusMetrics
  previous: MetricsPoint | BusMetrics | undefined
}) {
  const rows = Object.entries(current.types)
    .map(([type, counters]) => ({
      type,
      counters,
      rate: perSecond<MetricsPoint | BusMetrics>(previous, current, (metrics) => publishedOf(metrics, type)),
    }))
    .sort((a, b) => b.rate - a.rate || b.counters.published - a.counters.published)
  if (rows.length === 0) return null
  return (
    <section class="type-traffic">
      <h2 class="section-title">Message types</h2>
      <div class="table-scroll">
        <table class="grid" data-testid="type-traffic">
          <thead>
            <tr>
              <th>type</th>
              <th class="num">published/s</th>
              <th class="num">published</th>
              {COUNTERS.map((counter) => (
                <th key={counter} class="num">
                  {HEADINGS[counter]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(({ type, counters, rate: published }) => (
              <tr key={type} data-type={type}>
                <td>{type}</td>
                {/* No rate before a second snapshot: a dash, not a claim of no traffic. */}
                <td class="num">{previous === undefined ? '–' : rate(published)}</td>
                <td class="num" data-testid={`type-published-${type}`}>
                  {count(counters.published)}
                </td>
                {COUNTERS.map((counter) => (
                  <td
                    key={counter}
                    data-testid={`type-${counter}-${type}`}
                    class={`num${counters[counter] > 0 && WARNS.has(counter) ? ' warn' : ''}`}
                  >
                    {count(counters[counter])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
