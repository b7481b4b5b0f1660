/**
 * A long table drawn only where it can be seen. With 1,000 subscriptions, drawing every row of the
 * Subscriptions view again at each metrics snapshot took the window's main thread 70–90 ms a
 * second; a window of the rows in view (and a few past each edge) costs the same at 10 rows or
 * 10,000. `@tanstack/virtual-core` keeps the window and measures rows as they are drawn; this is
 * its adapter to Preact, as `@tanstack/react-virtual` is to React.
 */
import {
  elementScroll,
  observeElementOffset,
  observeElementRect,
  type VirtualItem,
  Virtualizer,
  type VirtualizerOptions,
} from '@tanstack/virtual-core'
import type { RefObject } from 'preact'
import { useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks'

/** Rows drawn past each edge of the view, so a quick scroll shows no blank before they come. */
const OVERSCAN_ROWS = 8

export interface WindowedRows {
  /** For the element that scrolls the table (it needs a bounded height and `overflow: auto`). */
  scrollRef: RefObject<HTMLDivElement | null>
  /** The rows to draw, in order: `index` into the table's rows, `key` the row's own. */
  rows: VirtualItem[]
  /** Pixels of undrawn rows above the first drawn one and below the last: spacers keep the scroll bar true. */
  above: number
  below: number
  /**
   * For each drawn row's element (which carries `data-index={row.index}`): measures it, so rows
   * taller than the estimate (an expanded payload) move the rest down.
   */
  measure: (element: Element | null) => void
}

/**
 * The window of `count` rows to draw, each about `estimatedRowPx` high until measured and known by
 * `keyOf(index)`, so a measurement follows its row when the order changes.
 */
export function useWindowedRows(
  count: number,
  estimatedRowPx: number,
  keyOf: (index: number) => string,
): WindowedRows {
  const scrollRef = useRef<HTMLDivElement>(null)
  const [, redraw] = useReducer((n: number) => n + 1, 0)
  const options: VirtualizerOptions<HTMLDivElement, Element> = {
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => estimatedRowPx,
    getItemKey: keyOf,
    overscan: OVERSCAN_ROWS,
    observeElementRect,
    observeElementOffset,
    scrollToFn: elementScroll,
    onChange: () => redraw(0),
  }
  const [virtualizer] = useState(() => new Virtualizer(options))
  virtualizer.setOptions(options)
  useLayoutEffect(() => virtualizer._didMount(), [virtualizer])
  useLayoutEffect(() => virtualizer._willUpdate())
  const rows = virtualizer.getVirtualItems()
  return {
    scrollRef,
    rows,
    above: rows[0]?.start ?? 0,
    below: rows.length === 0 ? 0 : virtualizer.getTotalSize() - (rows.at(-1)?.end ?? 0),
    measure: virtualizer.measureElement,
  }
}

/** The undrawn rows' height, as one row spanning `columns`; nothing when there is none. */
export function SpacerRow({ height, columns }: { height: number; columns: number }) {
  if (height <= 0) return null
  return (
    // biome-ignore lint/a11y/noAriaHiddenOnFocusable: a row takes no focus unless given a tabindex, and this one is not
    <tr class="spacer" aria-hidden="true">
      <td colSpan={columns} style={{ height: `${height}px` }} />
    </tr>
  )
}

/**
 * The columns' shares of the table's width (%), in order. A table drawn a window at a time is laid
 * out fixed (`.table-window`): sized by the rows in view, its columns would jump as it scrolls.
 */
export function ColumnWidths({ widths }: { widths: number[] }) {
  return (
    <colgroup>
      {widths.map((width, column) => (
        <col key={column} style={{ width: `${width}%` }} />
      ))}
    </colgroup>
  )
}
