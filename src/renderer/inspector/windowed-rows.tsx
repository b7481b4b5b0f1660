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
import type { ComponentChildren, RefObject } from 'preact'
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
 * For a list whose new rows come first (the tail): whether to keep the rows in view where they are
 * as new ones arrive above them. They are kept whenever the box is scrolled down, and while `hold`
 * (a row is open to read); at the top, and not held, the newest rows come into view.
 */
export interface NewestFirst {
  hold: boolean
}

/**
 * The window of `count` rows to draw, each about `estimatedRowPx` high until measured and known by
 * `keyOf(index)`, so a measurement follows its row when the order changes.
 */
export function useWindowedRows(
  count: number,
  estimatedRowPx: number,
  keyOf: (index: number) => string,
  newestFirst?: NewestFirst,
): WindowedRows {
  const scrollRef = useRef<HTMLDivElement>(null)
  const [, redraw] = useReducer((n: number) => n + 1, 0)
  const [virtualizer] = useState(() => new Virtualizer(options()))
  // Anchored to 'end', the virtualizer keeps the row at the top of the view in place when rows
  // are added before it; anchored to 'start', the rows' offsets stay and new ones push them down.
  const holdPlace = newestFirst !== undefined && (newestFirst.hold || (virtualizer.scrollOffset ?? 0) > 0)
  virtualizer.setOptions({ ...options(), anchorTo: holdPlace ? 'end' : 'start' })
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

  function options(): VirtualizerOptions<HTMLDivElement, Element> {
    return {
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
 * The columns' widths (CSS lengths), in order; `auto` for the one that takes what is left. A table
 * drawn a window at a time is laid out fixed (`.table-window`): sized by the rows in view, its
 * columns would jump as it scrolls. Its `min-width` (CSS, per table) leaves the `auto` column room.
 */
export function ColumnWidths({ widths }: { widths: readonly string[] }) {
  return (
    <colgroup>
      {widths.map((width, column) => (
        <col key={column} style={{ width }} />
      ))}
    </colgroup>
  )
}

/**
 * The ARIA row count of a table of `count` entries, each one row but the expanded one (at
 * `expandedIndex`, −1 for none), which has its payload's row under it; and each entry's row index
 * (the header is row 1).
 */
export function entryRows(count: number, expandedIndex: number) {
  const expanded = expandedIndex >= 0
  return {
    rowCount: count + 1 + (expanded ? 1 : 0),
    rowIndex: (index: number) => index + 2 + (expanded && index > expandedIndex ? 1 : 0),
  }
}

/**
 * The drawn window of `entries` as table bodies: each entry a body of its own, measured whole (its
 * row, and its payload's when expanded), between spacers for the entries not drawn.
 */
export function WindowedEntries<Entry>({
  drawn,
  entries,
  columns,
  children,
}: {
  drawn: WindowedRows
  entries: readonly Entry[]
  columns: number
  children: (entry: Entry, index: number) => ComponentChildren
}) {
  return (
    <>
      <tbody>
        <SpacerRow height={drawn.above} columns={columns} />
      </tbody>
      {drawn.rows.map(({ index, key }) => {
        const entry = entries[index]
        if (entry === undefined) return null
        // The key the window knows the entry by (`useWindowedRows`' `keyOf`), so Preact's follows it.
        return (
          <tbody key={String(key)} ref={drawn.measure} data-index={index}>
            {children(entry, index)}
          </tbody>
        )
      })}
      <tbody>
        <SpacerRow height={drawn.below} columns={columns} />
      </tbody>
    </>
  )
}
