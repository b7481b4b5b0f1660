// @vitest-environment happy-dom
/** The hub's points an inspector window asks for at each connection, in a window rendered without a hub. */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { describe, expect, it, vi } from 'vitest'
import type { ConnectionState, SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { usePastMetrics } from '../../src/renderer/inspector/feeds.js'
import type { MetricsPoint } from '../../src/shared/metrics-snapshot.js'
import { hubPoint } from './snapshots.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

/** A bus whose every `metricsHistory()` waits until the test answers it, in any order. */
function busAnsweringLater() {
  const asked: { answer: (points: MetricsPoint[]) => void; fail: (error: Error) => void }[] = []
  const metricsHistory = () =>
    new Promise<MetricsPoint[]>((answer, fail) => {
      asked.push({ answer, fail })
    })
  return { bus: { metricsHistory } as unknown as SkellyBusApi, asked }
}

/** The points `usePastMetrics` gives at each render, as the seconds they were collected at. */
function Shown({ bus, connection }: { bus: SkellyBusApi; connection: ConnectionState }) {
  const past = usePastMetrics(bus, connection)
  return <p>{past.map((point) => point.collectedAt.getTime() / 1000).join(',')}</p>
}

const point = (seconds: number) => hubPoint(new Date(seconds * 1000), {})

describe('the hub’s points a window charts', () => {
  it('are asked for at each opening, and an answer from a connection since lost is not taken', async () => {
    const { bus, asked } = busAnsweringLater()
    const show = (connection: ConnectionState) =>
      act(() => render(<Shown bus={bus} connection={connection} />, root))
    await show('connecting')
    expect(asked).toHaveLength(0)
    await show('open')
    await show('reconnecting')
    await show('open')
    expect(asked).toHaveLength(2)
    await act(async () => asked[1]?.answer([point(7), point(8)]))
    expect(root.textContent).toBe('7,8')
    // The first connection's answer, late: what the window missed since is in the second's.
    await act(async () => asked[0]?.answer([point(1)]))
    expect(root.textContent).toBe('7,8')
  })

  it('stay as they were when asking fails, and the console says why', async () => {
    const { bus, asked } = busAnsweringLater()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      await act(() => render(<Shown bus={bus} connection="open" />, root))
      await act(async () => asked[0]?.fail(new Error('Unauthorized: inspect not granted')))
      expect(root.textContent).toBe('')
      expect(warn).toHaveBeenCalledWith(
        "inspector: no metrics from the hub's history: Unauthorized: inspect not granted",
      )
    } finally {
      warn.mockRestore()
    }
  })
})
