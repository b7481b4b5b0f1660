/**
 * The message tail: the latest messages, newest publish time first (`tail-order.ts`), filtered by
 * type, source and priority, searched by id, correlation id or data (`tail-text.ts`), pausable,
 * each expandable to its full payload with its types shown as they are, and from there to the
 * conversation it is part of (a request and the replies naming it; a reply is marked ↩). Every match the tail keeps
 * (TAIL_SIZE) is listed, in a box that draws the rows in view.
 */
import { useState } from 'preact/hooks'
import { activatableRow } from './activatable-row.js'
import { FilterSelect } from './FilterSelect.js'
import type { TailState } from './feeds.js'
import { clockTime, PRIORITY_NAMES } from './format.js'
import { PayloadRow } from './PayloadRow.js'
import { dataLine, matchesSearch } from './tail-text.js'
import { ColumnWidths, entryRows, useWindowedRows, WindowedEntries } from './windowed-rows.js'

/** The columns' widths: time, type, source, priority, routed to, summary (what is left). */
const COLUMN_WIDTHS = ['115px', '190px', '140px', '85px', '90px', 'auto']
/** An entry's height before it is measured: one row of text, without its payload. */
const ENTRY_PX = 29

export function Tail({ tail }: { tail: TailState }) {
  const [type, setType] = useState('')
  const [source, setSource] = useState('')
  const [minPriority, setMinPriority] = useState(0)
  const [query, setQuery] = useState('')
  const [expanded, setExpanded] = useState<number>()
  const shown = tail.entries.filter(
    (e) =>
      (type === '' || e.message.payload.type === type) &&
      (source === '' || e.message.source === source) &&
      e.message.priority >= minPriority &&
      matchesSearch(e.message, query),
  )
  // Every match kept is listed; the rows in view are drawn. Drawing 200 rows at each batch (several
  // a second) cost the page ~200 ms a second at 200 messages/s, most of it layout.
  // A row opened to read stays where it is while newer ones arrive above it, until it is closed,
  // filtered out or dropped from the kept messages.
  const expandedIndex = shown.findIndex((e) => e.seq === expanded)
  const drawn = useWindowedRows(shown.length, ENTRY_PX, (index) => String(shown[index]?.seq ?? index), {
    hold: expandedIndex >= 0,
  })
  const { rowCount, rowIndex } = entryRows(shown.length, expandedIndex)
  return (
    <div class="tail">
      <div class="toolbar">
        <FilterSelect
          label="type"
          values={tail.entries.map((e) => e.message.payload.type)}
          value={type}
          onChange={setType}
          testId="tail-type"
        />
        <FilterSelect
          label="source"
          values={tail.entries.map((e) => e.message.source)}
          value={source}
          onChange={setSource}
          testId="tail-source"
        />
        <label>
          priority ≥
          <select
            value={minPriority}
            onChange={(e) => setMinPriority(Number(e.currentTarget.value))}
            data-testid="tail-priority"
          >
            {PRIORITY_NAMES.map((name, value) => (
              <option key={name} value={value}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <input
          type="search"
          placeholder="search ids and data"
          aria-label="search the tail by id, correlation id or data"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
          data-testid="tail-search"
        />
        <button type="button" onClick={() => tail.setPaused(!tail.paused)} data-testid="tail-pause">
          {tail.paused ? 'Resume' : 'Pause'}
        </button>
        <span class="spacer" />
        {tail.sampled && (
          <span
            class="pill warn"
            data-testid="tail-sampled"
            title="The hub forwards the tail a bounded number of messages at a time, a direct route's producer a smaller sample of what it carries, and none while this window has fallen over a megabyte behind in reading, so the inspector never slows the bus or fills the hub's memory: some messages are not shown."
          >
            sampling under load
          </span>
        )}
        <span class="muted" data-testid="tail-shown">
          {shown.length} shown · {tail.received} seen{tail.paused ? ' · paused' : ''}
        </span>
      </div>
      <div class="table-scroll table-window to-bottom" ref={drawn.scrollRef}>
        <table class="grid tail-table" data-testid="tail" aria-rowcount={rowCount}>
          <ColumnWidths widths={COLUMN_WIDTHS} />
          <thead>
            <tr aria-rowindex={1}>
              <th>time</th>
              <th>type</th>
              <th>source</th>
              <th>priority</th>
              <th class="num">routed to</th>
              <th>summary</th>
            </tr>
          </thead>
          <WindowedEntries drawn={drawn} entries={shown} columns={COLUMN_WIDTHS.length}>
            {(entry, index) => (
              <>
                <tr
                  aria-rowindex={rowIndex(index)}
                  {...activatableRow(() => setExpanded(expanded === entry.seq ? undefined : entry.seq))}
                  aria-expanded={expanded === entry.seq}
                  data-testid="tail-row"
                  data-type={entry.message.payload.type}
                  data-source={entry.message.source}
                  data-time={entry.message.timestamp.getTime()}
                >
                  <td class="mono">{clockTime(entry.message.timestamp, true)}</td>
                  <td>
                    {entry.message.correlationId !== undefined && (
                      <span
                        class="reply-mark"
                        title={`names message ${entry.message.correlationId} (its correlationId: a reply to it)`}
                        data-testid="tail-reply-mark"
                      >
                        ↩{' '}
                      </span>
                    )}
                    {entry.message.payload.type}
                  </td>
                  <td>{entry.message.source}</td>
                  <td>{PRIORITY_NAMES[entry.message.priority]}</td>
                  <td class="num">{entry.routedTo}</td>
                  <td class="mono summary">{dataLine(entry.message).slice(0, 120)}</td>
                </tr>
                {expanded === entry.seq && (
                  <PayloadRow
                    message={entry.message}
                    columns={COLUMN_WIDTHS.length}
                    testId="tail-payload"
                    actions={
                      <button
                        type="button"
                        class="link"
                        // A request and every reply naming it: its id, or the id its reply names.
                        onClick={() => setQuery(entry.message.correlationId ?? entry.message.id)}
                        title="the request and every message naming it by its correlationId, found by the search"
                        data-testid="tail-conversation"
                      >
                        Show its conversation
                      </button>
                    }
                  />
                )}
              </>
            )}
          </WindowedEntries>
        </table>
      </div>
    </div>
  )
}
