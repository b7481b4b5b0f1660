// @vitest-environment happy-dom
/**
 * The inspector's frame (top bar, tabs and their badges, the stale note) against a bus made to
 * order, which sends the snapshots and connection states the test chooses. The Overview it opens
 * on draws no charts here (uPlot needs a canvas).
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { describe, expect, it, vi } from 'vitest'
import type { ConnectionState, SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { clockTime } from '../../src/renderer/inspector/format.js'
import { Inspector } from '../../src/renderer/inspector/Inspector.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { connectionEntry, quietSnapshot, routeEntry, subscriptionEntry } from './snapshots.js'
import { stream, windowRoot } from './view-stubs.js'

vi.mock('../../src/renderer/inspector/Chart.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/Chart.js')>()),
  Chart: (await import('./view-stubs.js')).StubChart,
}))

/** A hub's bus as an inspector sees it, the test sending what it streams. */
function fakeBus() {
  const metrics = stream<BusMetrics>()
  const connection = stream<ConnectionState>()
  const bus = {
    onMetrics: metrics.listen,
    onConnection: connection.listen,
    onTail: () => () => {},
    metricsHistory: async () => [],
    deadLetters: {
      list: async () => [],
      replay: async () => ({ replayed: [], failed: [] }),
      purge: async () => 0,
    },
  }
  return {
    bus: bus as unknown as SkellyBusApi,
    send: metrics.send,
    connect: connection.send,
  }
}

const root = windowRoot()

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, 0) + seconds * 1000)
const topBar = () => root.querySelector('.topbar .muted')?.textContent
const healthPill = () => root.querySelector('.topbar .pill:not([data-testid=connection])')

async function openInspector() {
  const fake = fakeBus()
  await act(() => render(<Inspector bus={fake.bus} />, root))
  await fake.connect('open')
  return fake
}

describe('the inspector’s frame', () => {
  it('says how long the bus is up, its p99, how busy the hub is, and how often snapshots come', async () => {
    const fake = await openInspector()
    await fake.send(quietSnapshot({ collectedAt: at(0), uptimeMs: 3_599_999 }))
    expect(topBar()).toBe('up 59m 59s · p99 – · snapshot every …')
    const measured = { p50Ms: 1, p95Ms: 2, p99Ms: 3.25, p999Ms: 4, maxMs: 5, meanMs: 1, count: 8 }
    await fake.send(
      quietSnapshot({ collectedAt: at(1.5), uptimeMs: 3_723_000, deliveryLatency: measured, hubBusy: 0.426 }),
    )
    expect(topBar()).toBe('up 1h 2m · p99 3.25 ms · hub 43 % busy · snapshot every 1.5s')
    await fake.send(quietSnapshot({ collectedAt: at(3), uptimeMs: 3_600_000 }))
    expect(topBar()).toMatch(/^up 1h 0m · /)
  })

  it('gives the snapshots’ spacing to a tenth of a second', async () => {
    const fake = await openInspector()
    await fake.send(quietSnapshot({ collectedAt: at(0) }))
    await fake.send(quietSnapshot({ collectedAt: at(1.234) }))
    expect(topBar()).toMatch(/ · snapshot every 1\.2s$/)
  })

  it('counts on each tab what it holds: dead letters, subscriptions, active routes, connections', async () => {
    const fake = await openInspector()
    const badges = () =>
      Object.fromEntries(
        [...root.querySelectorAll('[role=tab]')].map((tab) => [
          tab.id,
          tab.querySelector('.badge')?.textContent,
        ]),
      )
    await fake.send(quietSnapshot())
    expect(Object.values(badges()).filter((badge) => badge !== undefined)).toEqual([])
    await fake.send(
      quietSnapshot({
        deadLetters: { size: 4, capacity: 10, evicted: 3, changes: 9 },
        subscriptions: [subscriptionEntry(), subscriptionEntry({ id: 's2' })],
        routes: [routeEntry(), routeEntry({ id: 'r2', state: 'waiting' }), routeEntry({ id: 'r3' })],
        connections: [connectionEntry()],
      }),
    )
    expect(badges()).toEqual({
      'tab-overview': undefined,
      'tab-subscriptions': '2',
      'tab-routes': '2',
      'tab-dead-letters': '4',
      'tab-tail': undefined,
      'tab-modules': undefined,
      'tab-connections': '1',
    })
  })

  it('away from the hub, keeps the last snapshot marked as such and claims no health', async () => {
    const fake = await openInspector()
    const collectedAt = at(0)
    await fake.send(quietSnapshot({ collectedAt }))
    expect(healthPill()?.textContent).toBe('healthy')
    expect(root.querySelector('[data-testid=stale]')).toBeNull()
    expect(root.querySelector('main')?.className).toBe('content')
    await fake.connect('reconnecting')
    expect(healthPill()).toBeNull()
    expect(root.querySelector('[data-testid=stale]')?.textContent).toBe(
      `Reconnecting to the hub… What follows is the last snapshot, taken at ${clockTime(collectedAt)}.`,
    )
    expect(root.querySelector('main')?.className).toBe('content stale')
    await fake.connect('closed')
    expect(root.querySelector('[data-testid=stale]')?.textContent).toMatch(
      /^Disconnected from the hub\. What follows/,
    )
  })

  it('is a tab list the keyboard walks: one tab stop, the arrows wrapping, Home and End', async () => {
    await openInspector()
    const tabs = () => [...root.querySelectorAll<HTMLButtonElement>('[role=tab]')]
    const selected = () => tabs().filter((tab) => tab.getAttribute('aria-selected') === 'true')
    const press = (key: string) => {
      const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true })
      return act(() => {
        root.querySelector('[role=tablist]')?.dispatchEvent(event)
      }).then(() => event)
    }
    const state = () => ({
      selected: selected().map((tab) => tab.id),
      focused: document.activeElement?.id,
      stops: tabs()
        .filter((tab) => tab.tabIndex === 0)
        .map((tab) => tab.id),
      active: tabs()
        .filter((tab) => tab.className === 'active')
        .map((tab) => tab.id),
      panel: root.querySelector('[role=tabpanel]')?.getAttribute('aria-labelledby'),
    })
    const on = (id: string) => ({ selected: [id], focused: id, stops: [id], active: [id], panel: id })
    expect(tabs().every((tab) => tab.getAttribute('aria-controls') === 'inspector-view')).toBe(true)
    expect((await press('ArrowLeft')).defaultPrevented).toBe(true)
    expect(state()).toEqual(on('tab-connections'))
    await press('ArrowRight')
    expect(state()).toEqual(on('tab-overview'))
    await press('ArrowRight')
    expect(state()).toEqual(on('tab-subscriptions'))
    await press('End')
    expect(state()).toEqual(on('tab-connections'))
    await press('Home')
    expect(state()).toEqual(on('tab-overview'))
    // Other keys are the page's: nothing moves, nothing is held back.
    expect((await press('a')).defaultPrevented).toBe(false)
    expect(state()).toEqual(on('tab-overview'))
  })

  it('opens a connection’s subscriptions narrowed to its module; chosen from the tabs, the view shows all again', async () => {
    const fake = await openInspector()
    await fake.send(
      quietSnapshot({
        subscriptions: [subscriptionEntry(), subscriptionEntry({ id: 's2', module: 'analysis-engine' })],
        connections: [connectionEntry()],
      }),
    )
    const click = (selector: string) => act(() => root.querySelector<HTMLElement>(selector)?.click())
    const moduleFilter = () =>
      root.querySelector<HTMLSelectElement>('[data-testid=subscriptions-filter-module]')?.value
    await click('[data-testid=tab-connections]')
    await click('[data-testid=connection-subscriptions] button')
    expect(root.querySelector('[role=tab][aria-selected=true]')?.id).toBe('tab-subscriptions')
    expect(moduleFilter()).toBe('storage')
    await click('[data-testid=tab-overview]')
    await click('[data-testid=tab-subscriptions]')
    expect(moduleFilter()).toBe('')
  })

  it('calls the bus degraded in its badge, the reasons in its title, refusals judged against the snapshot before', async () => {
    const fake = await openInspector()
    await fake.send(quietSnapshot({ collectedAt: at(0), maxQueueSize: 10 }))
    await fake.send(
      quietSnapshot({
        collectedAt: at(1),
        maxQueueSize: 10,
        messagesQueueFull: 5,
        subscriptions: [subscriptionEntry({ queueDepth: 9, queueFull: 5 })],
      }),
    )
    expect(healthPill()?.textContent).toBe('degraded')
    expect(healthPill()?.className).toBe('pill bad')
    expect(healthPill()?.getAttribute('title')).toBe(
      "storage's queue holds 9 of 10\n5 publishes/s refused: a queue is full (storage's)",
    )
  })
})
