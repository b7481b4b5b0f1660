// @vitest-environment happy-dom
/**
 * The windowed table: which rows the window draws as its box scrolls (on a layout faked here: a
 * box 200 px high, rows 20 px), the spacers that stand for undrawn rows, the bodies of the drawn
 * entries, the columns and the ARIA row numbers. Keeping the rows in view in place as new ones come
 * first needs the browser's scroll anchoring: the inspector's Playwright specs check it in Chromium.
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import {
  ColumnWidths,
  entryRows,
  useWindowedRows,
  WindowedEntries,
  type WindowedRows,
} from '../../src/renderer/inspector/windowed-rows.js'
import { everyRowDrawn, windowRoot } from './view-stubs.js'

const root = windowRoot()

/** A window of rows `first` to `last` of 20 px each, with `above` and `below` px undrawn. */
function windowOf(
  first: number,
  last: number,
  above: number,
  below: number,
  measured: Element[],
): WindowedRows {
  const drawnFromTop = everyRowDrawn(last + 1, 20, (index) => `key-${index}`)
  return {
    ...drawnFromTop,
    rows: drawnFromTop.rows.slice(first),
    above,
    below,
    measure: (element) => {
      if (element !== null) measured.push(element)
    },
  }
}

/** The drawn table: its bodies, each as its rows' text or a spacer's height. */
function drawnTable(drawn: WindowedRows, entries: readonly string[]) {
  render(
    <table>
      <ColumnWidths widths={['4rem', 'auto', '20%']} />
      <WindowedEntries drawn={drawn} entries={entries} columns={3}>
        {(entry, index) => (
          <tr>
            <td>{`${index}:${entry}`}</td>
          </tr>
        )}
      </WindowedEntries>
    </table>,
    root,
  )
  return [...root.querySelectorAll('tbody')].map((body) => {
    const spacer = body.querySelector('tr.spacer')
    if (spacer === null) return body.textContent ?? ''
    const cell = spacer.querySelector('td') as HTMLTableCellElement
    expect(spacer.getAttribute('aria-hidden')).toBe('true')
    expect(cell.colSpan).toBe(3)
    return `spacer ${cell.style.height}`
  })
}

describe('a windowed table', () => {
  const entries = Array.from({ length: 100 }, (_, index) => `entry${index}`)

  it('draws the rows in view, each entry a measured body, between spacers for the rest', () => {
    const measured: Element[] = []
    const bodies = drawnTable(windowOf(10, 12, 200, 1740, measured), entries)
    expect(bodies).toEqual(['spacer 200px', '10:entry10', '11:entry11', '12:entry12', 'spacer 1740px'])
    // Each drawn entry's body is handed to the window to measure, with the index it is known by.
    expect(measured.map((body) => body.getAttribute('data-index'))).toEqual(['10', '11', '12'])
    expect(measured.every((body) => body.tagName === 'TBODY')).toBe(true)
  })

  it('draws no spacer row where no row is undrawn, and skips a row past the entries', () => {
    // The window may still hold a row for an entry just gone, until it catches up.
    const bodies = drawnTable(windowOf(98, 100, 0, 0, []), entries)
    expect(bodies).toEqual(['', '98:entry98', '99:entry99', ''])
    expect(root.querySelectorAll('tr.spacer')).toHaveLength(0)
  })

  it('sets the columns’ widths in order', () => {
    drawnTable(windowOf(0, 0, 0, 0, []), entries)
    const widths = [...root.querySelectorAll('col')].map((col) => (col as HTMLElement).style.width)
    expect(widths).toEqual(['4rem', 'auto', '20%'])
  })
})

/** Lays out every element with class `box` 200 px high and every table body 20 px, for this test. */
function fakeLayout() {
  const heights = { clientHeight: ['box', 200], offsetHeight: ['TBODY', 20] } as const
  for (const [property, [kind, px]] of Object.entries(heights)) {
    Object.defineProperty(HTMLElement.prototype, property, {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains(kind) || this.tagName === kind ? px : 0
      },
    })
    onTestFinished(() => {
      Reflect.deleteProperty(HTMLElement.prototype, property)
    })
  }
}

/** A scrolling box of `entries`, drawn a window at a time, the window's spacers in its data. */
function WindowedTable({ entries }: { entries: readonly string[] }) {
  const drawn = useWindowedRows(entries.length, 20, (index) => entries[index] ?? String(index))
  return (
    <div ref={drawn.scrollRef} class="box" data-above={drawn.above} data-below={drawn.below}>
      <table>
        <WindowedEntries drawn={drawn} entries={entries} columns={1}>
          {(entry) => (
            <tr>
              <td class="entry">{entry}</td>
            </tr>
          )}
        </WindowedEntries>
      </table>
    </div>
  )
}

describe('the window of a table of 1,000 rows', () => {
  it('draws the rows in view and 8 past each edge, spacers standing for the rest, and follows a scroll', async () => {
    fakeLayout()
    const entries = Array.from({ length: 1000 }, (_, index) => `e${index}`)
    await act(() => render(<WindowedTable entries={entries} />, root))
    const box = root.querySelector('.box') as HTMLElement
    const drawn = () => {
      const texts = [...root.querySelectorAll('td.entry')].map((cell) => cell.textContent)
      return { first: texts[0], last: texts.at(-1), count: texts.length, ...box.dataset }
    }
    // In view: rows 0 to 9; and 8 past the lower edge, none above the first.
    expect(drawn()).toEqual({
      first: 'e0',
      last: 'e17',
      count: 18,
      above: '0',
      below: String(20 * (1000 - 18)),
    })
    box.scrollTop = 4000 // row 200 at the top
    await act(() => {
      box.dispatchEvent(new Event('scroll'))
    })
    expect(drawn()).toEqual({
      first: 'e192',
      last: 'e217',
      count: 26,
      above: String(192 * 20),
      below: String(20 * (1000 - 218)),
    })
  })

  it('stops listening to its box once the table is drawn no more', async () => {
    fakeLayout()
    await act(() => render(<WindowedTable entries={['only']} />, root))
    const box = root.querySelector('.box') as HTMLElement
    const removed = vi.spyOn(box, 'removeEventListener')
    await act(() => render(null, root))
    expect(removed).toHaveBeenCalledWith('scroll', expect.any(Function))
  })
})

describe('the ARIA rows of a table of entries', () => {
  it('counts the header and each entry, and the expanded entry’s payload row after it', () => {
    const closed = entryRows(5, -1)
    expect(closed.rowCount).toBe(6)
    expect([0, 4].map(closed.rowIndex)).toEqual([2, 6])
    // Entries up to the expanded one keep their number; those after it come one later.
    for (const [expandedIndex, numbers] of [
      [0, [2, 4, 5, 6, 7]],
      [2, [2, 3, 4, 6, 7]],
    ] as const) {
      const open = entryRows(5, expandedIndex)
      expect(open.rowCount).toBe(7)
      expect([0, 1, 2, 3, 4].map(open.rowIndex)).toEqual(numbers)
    }
  })
})
