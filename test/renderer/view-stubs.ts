/**
 * Stand-ins for what happy-dom cannot do, for a view test to mock in (`vi.mock`, its factory
 * importing these): uPlot's canvas, and a window of rows measured against a layout (Playwright's
 * tests see both for real); the element a test renders its window into; and a bus's streams, for a
 * fake bus to serve a window.
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { afterEach } from 'vitest'
import type { ChartProps } from '../../src/renderer/inspector/Chart.js'
import type { WindowedRows } from '../../src/renderer/inspector/windowed-rows.js'

/** What the view handed each chart it drew last, by test id (or title). */
export const chartsHanded = new Map<string, ChartProps>()

/** A chart that draws nothing and keeps what it was handed. */
export function StubChart(props: ChartProps): null {
  chartsHanded.set(props.testId ?? props.title, props)
  return null
}

/** Every row drawn, in order: without a layout, no row would be in view. */
export function everyRowDrawn(count: number, rowPx: number, keyOf: (index: number) => string): WindowedRows {
  return {
    scrollRef: { current: null },
    rows: Array.from({ length: count }, (_, index) => ({
      index,
      key: keyOf(index),
      start: index * rowPx,
      end: (index + 1) * rowPx,
      size: rowPx,
      lane: 0,
    })),
    above: 0,
    below: 0,
    measure: () => {},
  }
}

/**
 * One of a bus's streams (`onConnection`, `onMetrics`) as a fake bus gives it to a window: `listen`
 * is the bus's method; `send` hands a value to every listener, the window's renders flushed.
 */
export function stream<T>() {
  const listeners = new Set<(value: T) => void>()
  return {
    listen: (listener: (value: T) => void) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    send: (value: T) =>
      act(() => {
        for (const listener of listeners) listener(value)
      }),
    /** How many listen now. */
    get listening() {
      return listeners.size
    },
  }
}

/** An element in the page to render a view into, emptied after each test (its effects cleaned up). */
export function windowRoot(): HTMLElement {
  const root = document.createElement('div')
  document.body.append(root)
  afterEach(() => render(null, root))
  return root
}
