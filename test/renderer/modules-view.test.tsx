// @vitest-environment happy-dom
/** The inspector's Modules view, given snapshots made to order: each module's figures in their columns. */
import { render } from 'preact'
import { describe, expect, it } from 'vitest'
import { Modules } from '../../src/renderer/inspector/Modules.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { countersEntry, moduleEntry, quietSnapshot } from './snapshots.js'
import { rowsByHeading, textsOf } from './table.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

function show(metrics: BusMetrics | undefined) {
  render(<Modules metrics={metrics} />, root)
  return rowsByHeading(root, 'modules')
}

describe('the modules view', () => {
  it('says when it has no snapshot yet', () => {
    show(undefined)
    expect(root.textContent).toBe('Waiting for the first metrics snapshot…')
  })

  it('shows each module’s registry entry and traffic in their columns, ages from the snapshot’s time', () => {
    const rows = show(
      quietSnapshot({
        registry: {
          overall: 'Degraded',
          modules: [
            moduleEntry('storage', {
              status: 'Degraded',
              restarts: 2,
              lastExit: { code: 1, error: 'Error: EISDIR', at: new Date('2026-12-07T11:59:57Z') },
              errorsReported: 3,
              lastError: {
                errorType: 'ConfigRejected',
                message: "'batchMs' takes ms",
                at: new Date('2026-12-07T11:59:40Z'),
              },
            }),
          ],
        },
        modules: { storage: countersEntry() },
      }),
    )
    expect(root.querySelector('[data-testid=overall-health]')?.className).toBe('overall overall-Degraded')
    expect(root.querySelector('[data-testid=overall-health]')?.textContent).toBe('Overall: Degraded')
    expect(rows.map(textsOf)).toEqual([
      {
        module: 'storage',
        status: 'Degraded',
        'last health check': '10s ago',
        restarts: '2',
        'last exit': '3s ago · exit 1: Error: EISDIR',
        'errors reported': "3 · 20s ago · ConfigRejected: 'batchMs' takes ms",
        published: '500',
        'to no one': '40',
        'delivered to it': '300',
        failed: '6',
        registered: '5m 0s ago',
      },
    ])
    const [row] = rows
    expect(row?.status?.querySelector('.pill')?.className).toBe('pill status-Degraded')
    // Cut to the column's width, each stays whole in its title.
    expect(row?.['last exit']?.title).toBe('3s ago · exit 1: Error: EISDIR')
    expect(row?.['errors reported']?.title).toBe("3 · 20s ago · ConfigRejected: 'batchMs' takes ms")
  })

  it('shows a dash for what a module never had, and 0 for traffic it never saw', () => {
    const rows = show(
      quietSnapshot({
        registry: {
          overall: 'Transitioning',
          modules: [
            moduleEntry('gamification', { status: 'Starting', lastHealthCheck: undefined }),
            // An exit without an error it died of; an error counted before counts were kept.
            moduleEntry('storage', {
              lastExit: { code: 0, at: new Date('2026-12-07T11:59:00Z') },
              lastError: { errorType: 'Timeout', message: 'slow disk', at: new Date('2026-12-07T11:58:00Z') },
            }),
          ],
        },
      }),
    )
    expect(rows.map(textsOf)).toEqual([
      {
        module: 'gamification',
        status: 'Starting',
        'last health check': '–',
        restarts: '0',
        'last exit': '–',
        'errors reported': '–',
        published: '0',
        'to no one': '0',
        'delivered to it': '0',
        failed: '0',
        registered: '5m 0s ago',
      },
      expect.objectContaining({
        'last exit': '1m 0s ago · exit 0',
        'errors reported': '1 · 2m 0s ago · Timeout: slow disk',
      }),
    ])
    expect(rows.map((row) => [row['last exit']?.className, row['errors reported']?.className])).toEqual([
      ['muted', 'muted'],
      ['mono error-text', 'mono error-text'],
    ])
  })
})
