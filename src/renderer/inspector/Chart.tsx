/** A live uPlot line chart; colors follow the page's light or dark theme. */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { chartTime } from './format.js'

export interface Series {
  label: string
  color: string
  values: (number | null)[]
}

export interface ChartProps {
  title: string
  times: number[]
  series: Series[]
  /** Formats axis and legend values. */
  format: (value: number) => string
  height?: number
  /** The y axis spans at least 0 … this, so a flat line at 0 still has a readable scale. */
  minimumTop?: number
  testId?: string
}

/** Each charted figure's color, the same in every view: latency percentiles, queued, in flight. */
export const SERIES_COLORS = {
  p50: '#3b82f6',
  p95: '#f59e0b',
  p99: '#ef4444',
  p999: '#a855f7',
  queue: '#14b8a6',
  flight: '#64748b',
}

/** The time axis's tick spacings (seconds), finest first. */
const TIME_TICK_SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]

function themeColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

/** The last value a series has. */
function latest(values: ArrayLike<number | null | undefined> | undefined): number | undefined {
  for (let i = (values?.length ?? 0) - 1; i >= 0; i--) {
    const value = values?.[i]
    if (value != null) return value
  }
  return undefined
}

/**
 * A legend's value: the cursor's point's, or with the cursor off the chart the latest, so the
 * legend reads the current figures without a hover; a dash where there is none.
 */
function legendValue(format: (value: number) => string) {
  return (u: uPlot, value: number | null, seriesIndex: number, pointIndex: number | null) => {
    const shown = pointIndex === null ? latest(u.data[seriesIndex]) : value
    return shown == null ? '–' : format(shown)
  }
}

export function Chart({ title, times, series, format, height = 180, minimumTop = 1e-3, testId }: ChartProps) {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)
  const shape = series.map((s) => s.label).join('|')

  useEffect(() => {
    const element = container.current
    if (!element) return
    const axis = {
      stroke: themeColor('--muted'),
      grid: { stroke: themeColor('--grid') },
      ticks: { stroke: themeColor('--grid') },
    }
    plot.current = new uPlot(
      {
        width: element.clientWidth,
        height,
        // Room on the right for half a clock time: a tick at the plot's right edge centres its label there.
        padding: [null, 32, null, null],
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.1, minimumTop)] } },
        axes: [
          // Ticks far enough apart for a whole clock time each (~55 px at the axis font), and
          // whole seconds apart: the labels show seconds, so a finer tick would repeat its label.
          { ...axis, space: 80, incrs: TIME_TICK_SECONDS, values: (_u, ticks) => ticks.map(chartTime) },
          // Zero has no unit: "0", not "0 µs" under "10.0 ms".
          {
            ...axis,
            size: 70,
            values: (_u, ticks) => ticks.map((tick) => (tick === 0 ? '0' : format(tick))),
          },
        ],
        series: [
          { value: legendValue(chartTime) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            points: { show: false },
            value: legendValue(format),
          })),
        ],
      },
      [times, ...series.map((s) => s.values)],
      element,
    )
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: element.clientWidth, height }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.current?.destroy()
      plot.current = undefined
    }
    // The chart is rebuilt only when its series change; data updates go through setData below.
  }, [shape, height, minimumTop])

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)])
  })

  return (
    // For tests and tools to read: the first and last points' times (seconds since the epoch), how
    // many points lie between, and the first point any line has a value at, so a gap in the lines
    // can be seen without reading the canvas.
    <figure
      class="chart"
      data-testid={testId}
      data-from={times[0]}
      data-to={times.at(-1)}
      data-points={times.length}
      data-valued-from={times.find((_, i) => series.some((s) => s.values[i] != null))}
    >
      <figcaption title={title}>{title}</figcaption>
      <div ref={container} />
    </figure>
  )
}
