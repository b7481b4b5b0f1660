/**
 * Traffic by message type: which types flow, how fast, and what became of their copies
 * (delivered, failed, retried, dropped, coalesced, dead-lettered), busiest first. The totals are
 * the snapshot's `types`; the rate is the difference between the last two snapshots.
 */
import type { BusMetrics } from '../../shared/metrics-snapshot.js'
import { count, rate } from './format.js'

const COUNTERS = ['delivered', 'failed', 'retried', 'dropped', 'coalesced', 'deadLettered'] as const
const HEADINGS: Record<(typeof COUNTERS)[number], string> = {
  delivered: 'delivered',
  failed: 'failed',
  retried: 'retried',
  dropped: 'dropped',
  coalesced: 'coalesced',
  deadLettered: 'dead-lettered',
}

export function TypeTraffic({
  current,
  previous,
}: {
  current: BusMetrics
  previous: BusMetrics | undefined
}) {
  const seconds = previous ? (current.collectedAt.getTime() - previous.collectedAt.getTime()) / 1000 : 0
  const publishedPerSecond = (type: string) => {
    const before = previous?.types[type]?.published
    if (before === undefined || seconds <= 0) return 0
    return Math.max(0, ((current.types[type]?.published ?? 0) - before) / seconds)
  }
  const rows = Object.entries(current.types).sort(
    ([a, x], [b, y]) => publishedPerSecond(b) - publishedPerSecond(a) || y.published - x.published,
  )
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
            {rows.map(([type, counters]) => (
              <tr key={type} data-type={type}>
                <td>{type}</td>
                <td class="num">{rate(publishedPerSecond(type))}</td>
                <td class="num" data-testid={`type-published-${type}`}>
                  {count(counters.published)}
                </td>
                {COUNTERS.map((counter) => (
                  <td
                    key={counter}
                    class={`num${counters[counter] > 0 && counter !== 'delivered' ? ' warn' : ''}`}
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
