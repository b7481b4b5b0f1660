/**
 * Subscriptions: every subscription with its queue, flow and latency; sortable, filtered by module
 * and mode (an app may hold hundreds); the ones in trouble stand out. Selecting one charts its own
 * latency and queue depth (see SubscriptionCharts).
 */
import { useState } from 'preact/hooks'
import type { MetricsPoint, SubscriptionMetrics } from '../../shared/metrics-snapshot.js'
import { activatableRow } from './activatable-row.js'
import { Chart, SERIES_COLORS } from './Chart.js'
import { FilterSelect } from './FilterSelect.js'
import { chartPoints, type Sample, type SubscriptionAtPoint, subscriptionAt } from './feeds.js'
import { count, counted, millis } from './format.js'
import { routeBacklogNote, troubleFinder } from './health.js'
import { ColumnWidths, SpacerRow, useWindowedRows } from './windowed-rows.js'

/** A row's height before it is measured: one line of text and its padding. */
const ROW_PX = 33
/** The status column's width, beside the sortable ones'. */
const STATUS_WIDTH = '160px'

type Column = {
  key: string
  label: string
  value: (s: SubscriptionMetrics) => number | string
  numeric: boolean
  /** Its width (CSS): rows drawn a window at a time must not set the columns' widths. */
  width: string
}

const COLUMNS: Column[] = [
  { key: 'module', label: 'module', value: (s) => s.module, numeric: false, width: '140px' },
  { key: 'filter', label: 'filter', value: (s) => s.filter, numeric: false, width: 'auto' },
  { key: 'mode', label: 'mode', value: (s) => s.mode, numeric: false, width: '105px' },
  { key: 'queueDepth', label: 'queue', value: (s) => s.queueDepth, numeric: true, width: '64px' },
  { key: 'inFlight', label: 'in flight', value: (s) => s.inFlight, numeric: true, width: '76px' },
  { key: 'delivered', label: 'delivered', value: (s) => s.delivered, numeric: true, width: '84px' },
  { key: 'failed', label: 'failed', value: (s) => s.failed, numeric: true, width: '60px' },
  { key: 'dropped', label: 'dropped', value: (s) => s.dropped + s.coalesced, numeric: true, width: '72px' },
  { key: 'deadLettered', label: 'dead', value: (s) => s.deadLettered, numeric: true, width: '56px' },
  { key: 'slowHandlers', label: 'slow', value: (s) => s.slowHandlers, numeric: true, width: '52px' },
  { key: 'p95', label: 'p95 now', value: (s) => s.recentLatency.p95Ms, numeric: true, width: '84px' },
]

/**
 * `history`: the snapshots this window received; `past`: the hub's points, which chart queues from
 * before it; `module`: the module to show first (the Connections view's choice), all when empty.
 */
export function Subscriptions({
  history,
  past,
  module: shownFirst = '',
}: {
  history: Sample[]
  past: MetricsPoint[]
  module?: string
}) {
  const [sort, setSort] = useState<{ key: string; descending: boolean }>({
    key: 'queueDepth',
    descending: true,
  })
  const [selected, setSelected] = useState<string>()
  const [module, setModule] = useState(shownFirst)
  const [mode, setMode] = useState('')
  const latest = history.at(-1)?.metrics
  const column = COLUMNS.find((c) => c.key === sort.key) ?? COLUMNS[0]!
  const all = latest?.subscriptions ?? []
  const shown = all.filter((s) => (module === '' || s.module === module) && (mode === '' || s.mode === mode))
  const rows = shown.sort((a, b) => {
    const [x, y] = [column.value(a), column.value(b)]
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))
    return sort.descending ? -order : order
  })
  const drawn = useWindowedRows(rows.length, ROW_PX, (index) => rows[index]?.id ?? String(index))
  if (!latest) return <p class="empty">Waiting for the first metrics snapshot…</p>
  const chosen = all.find((s) => s.id === selected)
  const trouble = troubleFinder(history)
  const backlog = routeBacklogNote(latest)
  return (
    <div class="subscriptions">
      <div class="toolbar">
        <span data-testid="subscriptions-count">
          {`${counted(all.length, 'subscription')}${module || mode ? `, ${shown.length} shown` : ''}`}
        </span>
        <FilterSelect
          label="module"
          values={all.map((s) => s.module)}
          value={module}
          onChange={setModule}
          testId="subscriptions-filter-module"
        />
        <FilterSelect
          label="mode"
          values={all.map((s) => s.mode)}
          value={mode}
          onChange={setMode}
          testId="subscriptions-filter-mode"
        />
      </div>
      {backlog && (
        <p class="hint" data-testid="route-backlog-note">
          {backlog}
        </p>
      )}
      <div class="table-scroll table-window" ref={drawn.scrollRef}>
        {/* Only the rows in view are drawn: the ARIA counts and indexes say where they are. */}
        <table class="grid subscriptions-table" data-testid="subscriptions" aria-rowcount={rows.length + 1}>
          <ColumnWidths widths={[...COLUMNS.map((c) => c.width), STATUS_WIDTH]} />
          <thead>
            <tr aria-rowindex={1}>
              {COLUMNS.map((c) => (
                <th
                  key={c.key}
                  class={c.numeric ? 'num' : ''}
                  aria-sort={sort.key === c.key ? (sort.descending ? 'descending' : 'ascending') : 'none'}
                >
                  <button
                    type="button"
                    class="sort"
                    onClick={() =>
                      setSort({ key: c.key, descending: sort.key === c.key ? !sort.descending : c.numeric })
                    }
                  >
                    {c.label}
                    {sort.key === c.key ? (sort.descending ? ' ▼' : ' ▲') : ''}
                  </button>
                </th>
              ))}
              <th>status</th>
            </tr>
          </thead>
          <tbody>
            <SpacerRow height={drawn.above} columns={COLUMNS.length + 1} />
            {drawn.rows.map(({ index }) => {
              const s = rows[index]
              if (s === undefined) return null
              const issue = trouble(s)
              return (
                <tr
                  key={s.id}
                  ref={drawn.measure}
                  data-index={index}
                  aria-rowindex={index + 2}
                  class={`${issue ? 'trouble' : ''} ${selected === s.id ? 'selected' : ''}`}
                  {...activatableRow(() => setSelected(selected === s.id ? undefined : s.id))}
                  title="Select to chart this subscription"
                >
                  <td>{s.module}</td>
                  <td
                    class="filter-cell"
                    title={s.label === undefined ? s.filter : `${s.label}: ${s.filter}`}
                  >
                    {s.label !== undefined && (
                      <div class="subscription-label" data-testid="subscription-label">
                        {s.label}
                      </div>
                    )}
                    <div class="mono">{s.filter}</div>
                  </td>
                  <td>{s.mode}</td>
                  <td class="num">{count(s.queueDepth)}</td>
                  <td class="num">{count(s.inFlight)}</td>
                  <td class="num">{count(s.delivered)}</td>
                  <td class="num">{count(s.failed)}</td>
                  <td class="num">{count(s.dropped + s.coalesced)}</td>
                  <td class="num">{count(s.deadLettered)}</td>
                  <td class="num">{count(s.slowHandlers)}</td>
                  <td class="num">{s.recentLatency.count > 0 ? millis(s.recentLatency.p95Ms) : '–'}</td>
                  <td>{issue ? <span class="pill bad">{issue}</span> : <span class="pill ok">ok</span>}</td>
                </tr>
              )
            })}
            <SpacerRow height={drawn.below} columns={COLUMNS.length + 1} />
          </tbody>
        </table>
      </div>
      {chosen ? (
        <SubscriptionCharts subscription={chosen} history={history} past={past} />
      ) : (
        <p class="hint">Select a subscription to chart its latency and queue depth.</p>
      )}
    </div>
  )
}

/**
 * One subscription's charts over time, from the hub's points (from before the window opened) and
 * the snapshots this window received: its queue and in flight, and its latency in each interval it
 * delivered in.
 */
function SubscriptionCharts({
  subscription,
  history,
  past,
}: {
  subscription: SubscriptionMetrics
  history: Sample[]
  past: MetricsPoint[]
}) {
  const points = chartPoints(past, history)
  const atPoints = points.map((point) => subscriptionAt(point.metrics, subscription.id))
  const times = points.map((point) => point.time)
  const queue = (pick: (s: SubscriptionAtPoint) => number) => atPoints.map((sub) => (sub ? pick(sub) : null))
  const latency = (pick: (latency: SubscriptionMetrics['recentLatency']) => number) =>
    atPoints.map((sub) =>
      sub?.recentLatency && sub.recentLatency.count > 0 ? pick(sub.recentLatency) : null,
    )
  // A module may hold several subscriptions: its label (or its filter) says which one is charted.
  const which = `${subscription.module} · ${subscription.label ?? subscription.filter}`
  return (
    <section class="charts two">
      <Chart
        title={`${which} · latency (per interval)`}
        times={times}
        format={millis}
        minimumTop={1}
        testId="chart-subscription-latency"
        series={[
          { label: 'p50', color: SERIES_COLORS.p50, values: latency((l) => l.p50Ms) },
          { label: 'p95', color: SERIES_COLORS.p95, values: latency((l) => l.p95Ms) },
          { label: 'p99', color: SERIES_COLORS.p99, values: latency((l) => l.p99Ms) },
        ]}
      />
      <Chart
        title={`${which} · queue depth`}
        times={times}
        format={count}
        minimumTop={4}
        testId="chart-subscription-queue"
        series={[
          { label: 'queued', color: SERIES_COLORS.queue, values: queue((s) => s.queueDepth) },
          { label: 'in flight', color: SERIES_COLORS.flight, values: queue((s) => s.inFlight) },
        ]}
      />
    </section>
  )
}
