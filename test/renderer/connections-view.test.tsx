// @vitest-environment happy-dom
/** The inspector's Connections view, given snapshots made to order: each figure in its column, in order. */
import { render } from 'preact'
import { describe, expect, it } from 'vitest'
import { Connections } from '../../src/renderer/inspector/Connections.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { connectionEntry, quietSnapshot } from './snapshots.js'
import { rowsByHeading, textsOf } from './table.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

/** Renders the view; returns its rows by heading and the modules whose subscriptions were asked for. */
function show(metrics: BusMetrics | undefined) {
  const asked: string[] = []
  render(<Connections metrics={metrics} showSubscriptions={(module) => asked.push(module)} />, root)
  return { rows: rowsByHeading(root, 'connections'), asked }
}

describe('the connections view', () => {
  it('says when it has no snapshot, one without connections, and a hub with none attached', () => {
    show(undefined)
    expect(root.textContent).toBe('Waiting for the first metrics snapshot…')
    show(quietSnapshot({ connections: undefined }))
    expect(root.textContent).toBe('This snapshot lists no connections: it did not come through a hub.')
    show(quietSnapshot({ connections: [] }))
    expect(root.textContent).toBe('No endpoint is attached to the hub.')
  })

  it('shows each of a connection’s figures in its own column', () => {
    const { rows } = show(
      quietSnapshot({
        connections: [
          connectionEntry({
            module: 'inspector',
            transport: 'websocket',
            unsentBytes: 12_345,
            badFrames: 4,
            watching: ['metrics', 'tail'],
          }),
        ],
      }),
    )
    expect(rows.map(textsOf)).toEqual([
      {
        module: 'inspector',
        transport: 'WebSocket',
        state: 'open',
        // Collected at 12:00:00, attached at 11:58:00.
        attached: '2m 0s ago',
        subscriptions: '2',
        'awaiting ack': '3',
        unsent: '12.3 kB',
        'bad frames': '4',
        watching: 'metrics, tail',
      },
    ])
    expect(rows[0]?.['bad frames']?.className).toBe('num warn')
    expect(rows[0]?.attached?.title).toBe(new Date('2026-12-07T11:58:00Z').toLocaleString())
  })

  it('lists by module, then oldest first; a port has no unsent bytes, a quiet one watches nothing', () => {
    const { rows } = show(
      quietSnapshot({
        connections: [
          connectionEntry({ module: 'storage', attachedAt: new Date('2026-12-07T11:59:30Z') }),
          connectionEntry({ module: 'ai-integration', attachedAt: new Date('2026-12-07T11:59:45Z') }),
          connectionEntry({ module: 'storage', attachedAt: new Date('2026-12-07T11:59:00Z') }),
        ],
      }),
    )
    expect(rows.map((row) => `${row.module?.textContent} ${row.attached?.textContent}`)).toEqual([
      'ai-integration 15s ago',
      'storage 1m 0s ago',
      'storage 30s ago',
    ])
    expect(rows.map((row) => row.transport?.textContent)).toEqual([
      'MessagePort',
      'MessagePort',
      'MessagePort',
    ])
    expect(rows.map((row) => row.unsent?.textContent)).toEqual(['–', '–', '–'])
    expect(rows.map((row) => row.watching?.textContent)).toEqual(['–', '–', '–'])
    expect(rows.map((row) => row['bad frames']?.className)).toEqual(['num', 'num', 'num'])
  })

  it('says a connection whose hello has not come is greeting', () => {
    const { rows } = show(
      quietSnapshot({ connections: [connectionEntry(), connectionEntry({ greeted: false })] }),
    )
    const pills = rows.map((row) => row.state?.querySelector('.pill'))
    expect(pills.map((pill) => [pill?.textContent, pill?.className, pill?.getAttribute('title')])).toEqual([
      ['open', 'pill ok', null],
      ['greeting', 'pill warn', 'attached, its hello not yet received'],
    ])
  })

  it('opens the subscriptions of a connection that has some; one with none offers nothing', () => {
    const { rows, asked } = show(
      quietSnapshot({
        connections: [connectionEntry({ module: 'gamification' }), connectionEntry({ subscriptions: 0 })],
      }),
    )
    const [withSome, withNone] = rows.map((row) => row.subscriptions)
    expect(withNone?.querySelector('button')).toBeNull()
    expect(withNone?.textContent).toBe('0')
    const button = withSome?.querySelector('button')
    expect(button?.title).toBe("show gamification's subscriptions")
    button?.click()
    expect(asked).toEqual(['gamification'])
  })
})
