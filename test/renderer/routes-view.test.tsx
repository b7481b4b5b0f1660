// @vitest-environment happy-dom
/** The inspector's Routes view, given snapshots made to order: each figure in its column, each state told. */
import { render } from 'preact'
import { describe, expect, it } from 'vitest'
import { Routes } from '../../src/renderer/inspector/Routes.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { quietSnapshot, routeEntry } from './snapshots.js'
import { rowsByHeading, textsOf } from './table.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

function show(metrics: BusMetrics | undefined) {
  render(<Routes metrics={metrics} />, root)
  return rowsByHeading(root, 'routes')
}

describe('the routes view', () => {
  it('says when it has no snapshot yet, and when there are no routes', () => {
    show(undefined)
    expect(root.textContent).toBe('Waiting for the first metrics snapshot…')
    show(quietSnapshot())
    expect(root.textContent).toBe('No direct routes: every message goes through the hub.')
  })

  it('shows each of a route’s figures in its own column', () => {
    const [row, ...others] = show(
      quietSnapshot({ routes: [routeEntry({ types: ['RawEvent', 'StateChange'] })] }),
    )
    expect(others).toEqual([])
    expect(textsOf(row ?? {})).toEqual({
      route: 'data-capture → storage',
      types: 'RawEvent, StateChange',
      state: 'active',
      'delivered/s': '12.5/s',
      delivered: '1,234',
      failed: '5',
      'dead letters': '4',
      'to hub': '6',
      held: '9',
      backlog: '15',
      fallbacks: '2',
      'bad frames': '0',
    })
    expect(row?.backlog?.title).toBe(
      "7 waiting (of at most 1,000: past that the producer's publishes are refused with QueueFull), 8 in flight",
    )
    expect(row?.fallbacks?.title).toBe('set up 3 times')
  })

  it('marks an active route ok, a waiting one and a revoked one with why, and the figures that need a look', () => {
    const rows = show(
      quietSnapshot({
        maxQueueSize: 50,
        routes: [
          routeEntry({ id: 'a', queued: 39, refused: 0 }),
          routeEntry({
            id: 'w',
            producer: 'analysis-engine',
            consumer: 'gamification',
            state: 'waiting',
            reason: 'waiting for gamification',
            queued: 40,
            refused: 2,
          }),
          routeEntry({ id: 'r', state: 'revoked', reason: 'revoked by the main process', queueFull: 13 }),
        ],
      }),
    )
    const pill = (i: number) => rows[i]?.state?.querySelector('.pill')
    expect(pill(0)?.className).toBe('pill ok')
    expect(rows[0]?.state?.querySelector('.route-reason')).toBeNull()
    expect(pill(1)?.className).toBe('pill warn')
    expect(pill(1)?.getAttribute('title')).toBe('waiting for gamification')
    expect(rows[1]?.state?.querySelector('.route-reason')?.textContent).toBe('waiting for gamification')
    expect(pill(2)?.className).toBe('pill bad')
    expect(rows[2]?.state?.textContent).toBe('revokedrevoked by the main process')
    // A backlog at 80 % of the bound is nearly full; bad frames above 0 mean an end misbehaves.
    expect(rows.map((row) => row.backlog?.className)).toEqual(['num', 'num warn', 'num'])
    expect(rows.map((row) => row['bad frames']?.className)).toEqual(['num', 'num warn', 'num'])
    // Publishes its producer refused, its backlog full, are counted under the backlog.
    const refusedFull = rows.map((row) => row.backlog?.querySelector('.route-refused-full')?.textContent)
    expect(refusedFull).toEqual([undefined, undefined, '13 refused'])
  })
})
