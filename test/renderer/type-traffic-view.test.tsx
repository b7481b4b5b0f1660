// @vitest-environment happy-dom
/** The inspector's table of message types, given snapshots made to order: counts, rates, order, warnings. */
import { render } from 'preact'
import { describe, expect, it } from 'vitest'
import { TypeTraffic } from '../../src/renderer/inspector/TypeTraffic.js'
import type { BusMetrics, MetricsPoint } from '../../src/shared/metrics-snapshot.js'
import { countersEntry, hubPoint, quietSnapshot } from './snapshots.js'
import { rowsByHeading, textsOf } from './table.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, seconds))

function show(current: BusMetrics, previous?: MetricsPoint | BusMetrics) {
  render(<TypeTraffic current={current} previous={previous} />, root)
  return rowsByHeading(root, 'type-traffic')
}

describe('the message types table', () => {
  it('shows nothing while no type was published', () => {
    show(quietSnapshot())
    expect(root.innerHTML).toBe('')
  })

  it('shows each count of a type in its column, with no rate before a second snapshot', () => {
    const rows = show(quietSnapshot({ types: { RawEvent: countersEntry() } }))
    expect(rows.map(textsOf)).toEqual([
      {
        type: 'RawEvent',
        'published/s': '–',
        published: '500',
        'to no one': '40',
        delivered: '300',
        failed: '6',
        retried: '9',
        dropped: '7',
        coalesced: '8',
        'dead-lettered': '10',
        'refused (full)': '11',
      },
    ])
    // And in this order, headings and cells alike.
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'type',
      'published/s',
      'published',
      'to no one',
      'delivered',
      'failed',
      'retried',
      'dropped',
      'coalesced',
      'dead-lettered',
      'refused (full)',
    ])
    // Losses and refusals stand out; deliveries, coalescing and publishes no one took do not.
    const warned = Object.entries(rows[0] ?? {})
      .filter(([, cell]) => cell.classList.contains('warn'))
      .map(([heading]) => heading)
    expect(warned).toEqual(['failed', 'retried', 'dropped', 'dead-lettered', 'refused (full)'])
  })

  it('marks no count that is 0', () => {
    const zero = countersEntry({ failed: 0, retried: 0, dropped: 0, deadLettered: 0, queueFull: 0 })
    const [row] = show(quietSnapshot({ types: { RawEvent: zero } }))
    expect(Object.values(row ?? {}).filter((cell) => cell.classList.contains('warn'))).toEqual([])
  })

  it('rates each type against the snapshot before, busiest first, then the most published', () => {
    const types = (published: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(published).map(([type, n]) => [type, countersEntry({ published: n })]),
      )
    const rows = show(
      quietSnapshot({ collectedAt: at(4), types: types({ Quiet: 900, Busy: 120, Idle: 50, Idler: 70 }) }),
      quietSnapshot({ collectedAt: at(2), types: types({ Quiet: 899, Busy: 20, Idle: 50, Idler: 70 }) }),
    )
    expect(rows.map((row) => [row.type?.textContent, row['published/s']?.textContent])).toEqual([
      ['Busy', '50.0/s'],
      ['Quiet', '0.5/s'],
      ['Idler', '0.0/s'],
      ['Idle', '0.0/s'],
    ])
  })

  it('rates against a point the hub kept, a type not published by then from 0', () => {
    const rows = show(
      quietSnapshot({
        collectedAt: at(10),
        types: { RawEvent: countersEntry({ published: 5_000 }), Fresh: countersEntry({ published: 30 }) },
      }),
      hubPoint(at(0), { RawEvent: 1_000 }),
    )
    expect(rows.map((row) => [row.type?.textContent, row['published/s']?.textContent])).toEqual([
      ['RawEvent', '400/s'],
      ['Fresh', '3.0/s'],
    ])
  })
})
