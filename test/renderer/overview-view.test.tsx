// @vitest-environment happy-dom
/**
 * The inspector's Overview, given snapshots made to order: the verdict and the notes beside it,
 * the cards, the module strip, and what it hands its charts (uPlot's canvas is not drawn here).
 */
import { render } from 'preact'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { Sample } from '../../src/renderer/inspector/feeds.js'
import { Overview } from '../../src/renderer/inspector/Overview.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import {
  connectionEntry,
  countersEntry,
  moduleEntry,
  quietSnapshot,
  routeEntry,
  subscriptionEntry,
} from './snapshots.js'
import { chartsHanded, windowRoot } from './view-stubs.js'

vi.mock('../../src/renderer/inspector/Chart.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/Chart.js')>()),
  Chart: (await import('./view-stubs.js')).StubChart,
}))

const root = windowRoot()
beforeEach(() => chartsHanded.clear())

/** A sample `seconds` after 12:00, its snapshot collected then. */
const sampleAt = (seconds: number, overrides: Partial<BusMetrics> = {}): Sample => {
  const collectedAt = new Date(Date.UTC(2026, 11, 7, 12, 0, seconds))
  return { time: collectedAt.getTime() / 1000, metrics: quietSnapshot({ collectedAt, ...overrides }) }
}

function show(...history: Sample[]) {
  render(<Overview history={history} past={[]} />, root)
  const byTestId = (id: string) => root.querySelector(`[data-testid=${id}]`)
  return { byTestId, text: (id: string) => byTestId(id)?.textContent }
}

describe('the overview', () => {
  it('says when it has no snapshot yet', () => {
    show()
    expect(root.textContent).toBe('Waiting for the first metrics snapshot…')
  })

  it('says the hub’s thread sets the pace from 90 % busy, and nothing below or where it is not measured', () => {
    const note = (hubBusy: number | undefined) => show(sampleAt(0, { hubBusy })).text('verdict-hub-busy')
    expect(note(0.9)).toBe("the hub's thread was 90 % busy: it sets the pace of every message through it")
    expect(note(0.997)).toBe("the hub's thread was 100 % busy: it sets the pace of every message through it")
    expect(note(0.899)).toBeUndefined()
    expect(note(undefined)).toBeUndefined()
  })

  it('names three connections sending bad frames, counts the rest, and the verdict stays the bus’s', () => {
    const connections = ['a', 'b', 'c', 'd', 'e'].map((module, i) =>
      connectionEntry({ module, badFrames: i + 1, attachedAt: new Date(Date.UTC(2026, 11, 7, 11, 59, i)) }),
    )
    const { text, byTestId } = show(sampleAt(0, { connections }))
    expect(text('verdict-bad-frames')).toBe(
      '5 connections sending frames the hub refuses: a (1 bad frame), b (2 bad frames), c (3 bad frames) and 2 more (Connections view)',
    )
    expect(byTestId('verdict')?.className).toBe('verdict ok')
  })

  it('names three subscriptions in trouble beside the verdict, and counts the rest', () => {
    const subscriptions = ['a', 'b', 'c', 'd'].map((module, i) =>
      subscriptionEntry({ id: `sub-${module}`, module, parked: true, routed: i }),
    )
    const { text } = show(sampleAt(0, { subscriptions }))
    expect(text('verdict-trouble')).toBe(
      '4 subscriptions in trouble: a (parked, endpoint away), b (parked, endpoint away), c (parked, endpoint away) and 1 more (Subscriptions view)',
    )
    show(sampleAt(0, { subscriptions: subscriptions.slice(0, 3) }))
    expect(text('verdict-trouble')).toMatch(/^3 subscriptions in trouble: .*c \(parked, endpoint away\)$/)
  })

  it('counts the subscriptions in flight, and charts throughput and the queue beside what is in flight', () => {
    const { text } = show(
      sampleAt(0, { messagesPublished: 0, messagesFailed: 0, currentQueueDepth: 4, inFlight: 1 }),
      sampleAt(1, {
        messagesPublished: 50,
        messagesDelivered: 40,
        messagesFailed: 7,
        messagesDropped: 3,
        currentQueueDepth: 9,
        inFlight: 6,
        subscriptions: [subscriptionEntry(), subscriptionEntry({ id: 'sub-2' })],
      }),
    )
    expect(text('kpi-inflight-total')).toBe('2 subscriptions')
    const handed = (id: string) =>
      chartsHanded.get(id)?.series.map((series) => [series.label, series.values.at(-1)])
    expect(handed('chart-throughput')).toEqual([
      ['published', 50],
      ['delivered', 40],
      ['failed', 7],
    ])
    expect(handed('chart-queue')).toEqual([
      ['queued', 9],
      ['in flight', 6],
    ])
  })

  it('judges refusals against the snapshot before, and rates the types against it', () => {
    const before = sampleAt(0, { types: { RawEvent: countersEntry({ published: 100 }) } })
    const now = sampleAt(2, {
      messagesQueueFull: 30,
      subscriptions: [subscriptionEntry({ queueFull: 30 })],
      types: { RawEvent: countersEntry({ published: 300 }) },
    })
    const { text, byTestId } = show(before, now)
    expect(byTestId('verdict')?.className).toBe('verdict bad')
    expect(text('verdict')).toContain("15 publishes/s refused: a queue is full (storage's)")
    const rawEvents = root.querySelector('[data-testid=type-traffic] tr[data-type=RawEvent]')
    expect(rawEvents?.querySelectorAll('td')[1]?.textContent).toBe('100/s')
  })

  it('shows the fullest queue against the bound beside the total, its bar never past full', () => {
    const bar = () => root.querySelector<HTMLElement>('[data-testid=kpi-queue] .bar')
    const { byTestId } = show(
      sampleAt(0, {
        maxQueueSize: 200,
        currentQueueDepth: 75,
        subscriptions: [
          subscriptionEntry({ queueDepth: 50 }),
          subscriptionEntry({ id: 's2', queueDepth: 25 }),
        ],
      }),
    )
    expect(byTestId('kpi-queue')?.querySelector('.value')?.textContent).toBe('75')
    expect(byTestId('kpi-queue')?.querySelector('.detail')?.textContent).toBe('fullest 50 / 200')
    expect(bar()?.title).toBe("fullest: storage's queue, 50 of 200")
    expect((bar()?.firstElementChild as HTMLElement | null)?.style.width).toBe('25%')
    // A depth past the bound fills the bar, and no more: it stays inside its card.
    show(sampleAt(0, { maxQueueSize: 200, routes: [routeEntry({ queued: 300 })] }))
    expect((bar()?.firstElementChild as HTMLElement | null)?.style.width).toBe('100%')
    expect(bar()?.title).toBe("fullest: the data-capture → storage route's backlog, 300 of 200")
  })

  it('marks each module by its status and a restarted one by its restarts', () => {
    show(
      sampleAt(0, {
        registry: {
          overall: 'Degraded',
          modules: [
            moduleEntry('storage', { status: 'Unhealthy', restarts: 2 }),
            moduleEntry('gamification', { restarts: 0 }),
          ],
        },
      }),
    )
    const pills = [...root.querySelectorAll('[data-testid=module-strip] .pill')]
    expect(pills.map((pill) => [pill.textContent, pill.className, pill.getAttribute('title')])).toEqual([
      ['storage ↻2', 'pill status-Unhealthy', 'Unhealthy'],
      ['gamification', 'pill status-Healthy', 'Healthy'],
    ])
  })

  it('gives p95 now only when the last interval delivered, and charts latency only where one did', () => {
    const measured = { p50Ms: 1, p95Ms: 2.5, p99Ms: 3, p999Ms: 4, maxMs: 5, meanMs: 1.2, count: 10 }
    const quiet = { ...measured, count: 0 }
    const { byTestId } = show(
      sampleAt(0, { recentLatency: measured }),
      sampleAt(1, { recentLatency: quiet, deliveryLatency: { ...measured, p999Ms: 12 } }),
    )
    expect(byTestId('kpi-p95')?.querySelector('.value')?.textContent).toBe('–')
    expect(byTestId('kpi-p95')?.querySelector('.detail')?.textContent).toBe('p99.9 12.0 ms overall')
    const latency = chartsHanded.get('chart-latency')
    expect(latency?.series.map((series) => [series.label, series.values])).toEqual([
      ['p50', [1, null]],
      ['p95', [2.5, null]],
      ['p99', [3, null]],
      ['p99.9', [4, null]],
    ])
    show(sampleAt(0, { recentLatency: measured }))
    expect(byTestId('kpi-p95')?.querySelector('.value')?.textContent).toBe('2.50 ms')
  })
})
