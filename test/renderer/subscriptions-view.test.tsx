// @vitest-environment happy-dom
/**
 * The inspector's Subscriptions view, given snapshots and hub points made to order: what a selected
 * subscription's charts are handed at each point. Without layout no row would be in view here, so
 * every row is drawn (the windowing is Playwright's to test, with a thousand rows); uPlot's canvas
 * is not drawn either: the charts are read by what the view hands them.
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ChartProps } from '../../src/renderer/inspector/Chart.js'
import type { Sample } from '../../src/renderer/inspector/feeds.js'
import { Subscriptions } from '../../src/renderer/inspector/Subscriptions.js'
import type { BusMetrics, MetricsPoint } from '../../src/shared/metrics-snapshot.js'
import { hubPoint, quietSnapshot, subscriptionEntry } from './snapshots.js'
import { chartsHanded, windowRoot } from './view-stubs.js'

vi.mock('../../src/renderer/inspector/Chart.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/Chart.js')>()),
  Chart: (await import('./view-stubs.js')).StubChart,
}))
vi.mock('../../src/renderer/inspector/windowed-rows.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/windowed-rows.js')>()),
  useWindowedRows: (await import('./view-stubs.js')).everyRowDrawn,
}))

const root = windowRoot()
afterEach(() => {
  chartsHanded.clear()
})

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, seconds))
const sampleAt = (seconds: number, overrides: Partial<BusMetrics>): Sample => ({
  time: at(seconds).getTime() / 1000,
  metrics: quietSnapshot({ collectedAt: at(seconds), ...overrides }),
})
const latency = (count: number, p50Ms: number) => ({
  p50Ms,
  p95Ms: p50Ms * 2,
  p99Ms: p50Ms * 3,
  p999Ms: p50Ms * 4,
  maxMs: p50Ms * 5,
  meanMs: p50Ms,
  count,
})

async function showAndSelect(history: Sample[], past: MetricsPoint[], module: string) {
  await act(() => render(<Subscriptions history={history} past={past} />, root))
  const row = [...root.querySelectorAll<HTMLElement>('tbody tr[aria-rowindex]')].find(
    (tr) => tr.querySelector('td')?.textContent === module,
  )
  await act(() => row?.click())
  return {
    latency: chartsHanded.get('chart-subscription-latency'),
    queue: chartsHanded.get('chart-subscription-queue'),
  }
}

/** Each series' label and values. */
const valuesOf = (chart: ChartProps | undefined) =>
  chart?.series.map((series) => [series.label, series.values])

describe('a selected subscription’s charts', () => {
  it('chart its queue at every point that can say, and its latency only where it delivered', async () => {
    const watched = (overrides: Parameters<typeof subscriptionEntry>[0]) =>
      subscriptionEntry({ id: 'watched', module: 'gamification', ...overrides })
    const past: MetricsPoint[] = [
      // A point from a hub that lists no busy subscriptions: it cannot say.
      { ...hubPoint(at(0), {}), busySubscriptions: undefined },
      // Not among the busy ones: nothing queued, nothing delivered in that interval.
      hubPoint(at(1), {}),
      {
        ...hubPoint(at(2), {}),
        busySubscriptions: [{ id: 'watched', queueDepth: 3, inFlight: 1, recentLatency: latency(4, 2) }],
      },
      // Busy with a queue, but nothing delivered: no latency.
      { ...hubPoint(at(3), {}), busySubscriptions: [{ id: 'watched', queueDepth: 5, inFlight: 2 }] },
    ]
    const history = [
      sampleAt(4, { subscriptions: [watched({ queueDepth: 6, inFlight: 2, recentLatency: latency(0, 0) })] }),
      sampleAt(5, {
        subscriptions: [watched({ queueDepth: 1, inFlight: 0, recentLatency: latency(9, 1.5) })],
      }),
    ]
    const charted = await showAndSelect(history, past, 'gamification')
    expect(charted.queue?.times).toEqual([0, 1, 2, 3, 4, 5].map((s) => at(s).getTime() / 1000))
    expect(valuesOf(charted.queue)).toEqual([
      ['queued', [null, 0, 3, 5, 6, 1]],
      ['in flight', [null, 0, 1, 2, 2, 0]],
    ])
    expect(valuesOf(charted.latency)).toEqual([
      ['p50', [null, null, 2, null, null, 1.5]],
      ['p95', [null, null, 4, null, null, 3]],
      ['p99', [null, null, 6, null, null, 4.5]],
    ])
  })

  it('say which of a module’s subscriptions they chart, by its label or else its filter', async () => {
    const history = [
      sampleAt(0, {
        subscriptions: [
          subscriptionEntry({ id: 'a', module: 'storage', label: 'event log' }),
          subscriptionEntry({ id: 'b', module: 'analysis-engine', filter: 'types=[RawEvent] sources=*' }),
        ],
      }),
    ]
    expect((await showAndSelect(history, [], 'storage')).queue?.title).toBe(
      'storage · event log · queue depth',
    )
    render(null, root)
    expect((await showAndSelect(history, [], 'analysis-engine')).latency?.title).toBe(
      'analysis-engine · types=[RawEvent] sources=* · latency (per interval)',
    )
  })
})
