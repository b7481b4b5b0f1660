// @vitest-environment happy-dom
/**
 * The inspector's chart around uPlot, whose canvas happy-dom cannot draw: uPlot is replaced by a
 * recorder of what the chart asks of it (its options, data, sizes and end), and the options'
 * functions are called as uPlot would call them. Playwright's tests see real charts drawn.
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Chart, type ChartProps } from '../../src/renderer/inspector/Chart.js'
import { chartTime } from '../../src/renderer/inspector/format.js'
import { windowRoot } from './view-stubs.js'

/** What each uPlot the chart made was asked, in order; hoisted for `vi.mock`'s factory. */
const { RecordedPlot, plots } = vi.hoisted(() => {
  const plots: InstanceType<typeof RecordedPlot>[] = []
  class RecordedPlot {
    readonly sizes: { width: number; height: number }[] = []
    destroyed = false
    constructor(
      readonly options: RecordedOptions,
      public data: (number | null)[][],
      readonly element: HTMLElement,
    ) {
      plots.push(this)
    }
    setData(data: (number | null)[][]) {
      this.data = data
    }
    setSize(size: { width: number; height: number }) {
      this.sizes.push(size)
    }
    destroy() {
      this.destroyed = true
    }
  }
  return { RecordedPlot, plots }
})
type RecordedPlot = InstanceType<typeof RecordedPlot>

type Formatter = (u: unknown, ticks: number[]) => string[]
type LegendValue = (u: RecordedPlot, value: number | null, series: number, point: number | null) => string
interface RecordedOptions {
  width: number
  height: number
  scales: { y: { range: (u: unknown, min: number, max: number) => [number, number] } }
  axes: { values: Formatter }[]
  series: { label?: string; stroke?: string; value: LegendValue }[]
}

vi.mock('uplot', () => ({ default: RecordedPlot }))

const root = windowRoot()
afterEach(() => {
  plots.length = 0
})

const times = [1_780_000_000, 1_780_000_001, 1_780_000_002]
const props = (overrides: Partial<ChartProps> = {}): ChartProps => ({
  title: 'latency',
  times,
  series: [
    { label: 'p50', color: '#111', values: [null, 2, 3] },
    { label: 'p99', color: '#222', values: [null, 20, null] },
  ],
  format: (value) => `${value} ms`,
  testId: 'chart-latency',
  ...overrides,
})
const show = (chartProps: ChartProps) => act(() => render(<Chart {...chartProps} />, root))
const thePlot = () => {
  expect(plots).toHaveLength(1)
  return plots[0] as RecordedPlot
}

describe('a chart', () => {
  it('hands uPlot its times and each series’ values, labels and colors, at its height', async () => {
    await show(props({ height: 120 }))
    const plot = thePlot()
    expect(plot.data).toEqual([times, [null, 2, 3], [null, 20, null]])
    expect(plot.options.height).toBe(120)
    expect(plot.options.series.slice(1).map(({ label, stroke }) => [label, stroke])).toEqual([
      ['p50', '#111'],
      ['p99', '#222'],
    ])
    expect(plot.element.parentElement?.querySelector('figcaption')?.textContent).toBe('latency')
  })

  it('says on its figure which points it holds and the first any line has a value at', async () => {
    await show(
      props({
        series: [
          { label: 'p50', color: '#111', values: [null, 2, 3] },
          { label: 'p99', color: '#222', values: [null, null, 30] },
        ],
      }),
    )
    const figure = root.querySelector<HTMLElement>('[data-testid=chart-latency]')
    expect({ ...figure?.dataset }).toEqual({
      testid: 'chart-latency',
      from: String(times[0]),
      to: String(times[2]),
      points: '3',
      valuedFrom: String(times[1]),
    })
  })

  it('scales its y axis from 0 to a tenth above the highest value, or at least to its minimum top', async () => {
    await show(props({ minimumTop: 5 }))
    const range = thePlot().options.scales.y.range
    const [low, high] = range(undefined, 0, 100)
    expect(low).toBe(0)
    expect(high).toBeCloseTo(110, 9)
    expect(range(undefined, 0, 1)).toEqual([0, 5])
  })

  it('labels the time axis with clock times and the value axis in its format, but for a bare 0', async () => {
    await show(props())
    const [timeAxis, valueAxis] = thePlot().options.axes
    expect(timeAxis?.values(undefined, [times[0] as number])).toEqual([chartTime(times[0] as number)])
    expect(valueAxis?.values(undefined, [0, 2.5])).toEqual(['0', '2.5 ms'])
  })

  it('shows in its legend the point under the cursor, else each line’s latest value, else a dash', async () => {
    await show(props())
    const plot = thePlot()
    const legend = (series: number, value: number | null, point: number | null) =>
      plot.options.series[series]?.value(plot, value, series, point)
    expect(legend(1, 2, 1)).toBe('2 ms')
    expect(legend(1, null, 0)).toBe('–')
    expect(legend(1, null, null)).toBe('3 ms')
    expect(legend(2, null, null)).toBe('20 ms') // its last point has none: the latest it has
    expect(legend(0, null, null)).toBe(chartTime(times[2] as number))
    plot.setData([[], [], []])
    expect(legend(1, null, null)).toBe('–')
  })

  it('takes new values as data, without being made again, until its series change', async () => {
    await show(props())
    const later = [...times, 1_780_000_003]
    await show(
      props({
        times: later,
        series: [
          { label: 'p50', color: '#111', values: [null, 2, 3, 4] },
          { label: 'p99', color: '#222', values: [null, 20, null, 40] },
        ],
      }),
    )
    expect(thePlot().data).toEqual([later, [null, 2, 3, 4], [null, 20, null, 40]])

    await show(props({ series: [{ label: 'queued', color: '#333', values: [1, 2, 3] }] }))
    expect(plots).toHaveLength(2)
    expect(plots[0]?.destroyed).toBe(true)
    expect(plots[1]?.options.series.slice(1).map((s) => s.label)).toEqual(['queued'])
    expect(plots[1]?.destroyed).toBe(false)
  })

  it('is made again at a new height or minimum top', async () => {
    await show(props())
    await show(props({ height: 300 }))
    await show(props({ height: 300, minimumTop: 10 }))
    expect(plots.map((plot) => [plot.options.height, plot.destroyed])).toEqual([
      [180, true],
      [300, true],
      [300, false],
    ])
  })

  it('follows its box’s width, and stops when it is taken away', async () => {
    const observers: { callback: () => void; observed: Element[]; disconnected: boolean }[] = []
    vi.stubGlobal(
      'ResizeObserver',
      class {
        private readonly record: (typeof observers)[number]
        constructor(callback: () => void) {
          this.record = { callback, observed: [], disconnected: false }
          observers.push(this.record)
        }
        observe(element: Element) {
          this.record.observed.push(element)
        }
        disconnect() {
          this.record.disconnected = true
        }
      },
    )
    try {
      await show(props({ height: 150 }))
      const plot = thePlot()
      expect(observers.map((o) => o.observed)).toEqual([[plot.element]])
      Object.defineProperty(plot.element, 'clientWidth', { value: 640, configurable: true })
      observers[0]?.callback()
      expect(plot.sizes).toEqual([{ width: 640, height: 150 }])

      await act(() => render(null, root))
      expect(plot.destroyed).toBe(true)
      expect(observers[0]?.disconnected).toBe(true)
    } finally {
      vi.unstubAllGlobals()
    }
  })
})
