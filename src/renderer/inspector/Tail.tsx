/**
 * The message tail: the latest messages, newest publish time first (`tail-order.ts`), filtered by
 * type, source and priority, searched by id, correlation id or data (`tail-text.ts`), pausable,
 * each expandable to its full payload with its types shown as they are.
 */
import { useState } from 'preact/hooks'
import { activatableRow } from './activatable-row.js'
import { FilterSelect } from './FilterSelect.js'
import type { TailState } from './feeds.js'
import { clockTime, PRIORITY_NAMES } from './format.js'
import { PayloadRow } from './PayloadRow.js'
import { dataLine, matchesSearch } from './tail-text.js'

/**
 * Rows drawn at most: the tail keeps more (TAIL_SIZE), so a filter or a search finds older
 * matches, but redrawing hundreds of rows several times a second costs the page more than anyone
 * reads. The count says when it draws fewer than match.
 */
const ROWS_DRAWN = 200

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
  const drawn = shown.slice(0, ROWS_DRAWN)
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
            title="Under heavy load the hub forwards a sample of the messages, so the inspector never slows the bus."
          >
            sampling under load
          </span>
        )}
        <span class="muted" data-testid="tail-shown">
          {drawn.length} shown{drawn.length < shown.length ? ` (newest of ${shown.length} matching)` : ''} ·{' '}
          {tail.received} seen{tail.paused ? ' · paused' : ''}
        </span>
      </div>
      <div class="table-scroll">
        <table class="grid tail-table" data-testid="tail">
          <thead>
            <tr>
              <th>time</th>
              <th>type</th>
              <th>source</th>
              <th>priority</th>
              <th class="num">routed to</th>
              <th>summary</th>
            </tr>
          </thead>
          <tbody>
            {drawn.map((entry) => (
              <>
                <tr
                  key={entry.seq}
                  {...activatableRow(() => setExpanded(expanded === entry.seq ? undefined : entry.seq))}
                  aria-expanded={expanded === entry.seq}
                  data-testid="tail-row"
                  data-type={entry.message.payload.type}
                  data-source={entry.message.source}
                  data-time={entry.message.timestamp.getTime()}
                >
                  <td class="mono">{clockTime(entry.message.timestamp, true)}</td>
                  <td>{entry.message.payload.type}</td>
                  <td>{entry.message.source}</td>
                  <td>{PRIORITY_NAMES[entry.message.priority]}</td>
                  <td class="num">{entry.routedTo}</td>
                  <td class="mono summary">{dataLine(entry.message).slice(0, 120)}</td>
                </tr>
                {expanded === entry.seq && (
                  <PayloadRow
                    key={`${entry.seq}-payload`}
                    message={entry.message}
                    columns={6}
                    testId="tail-payload"
                  />
                )}
              </>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  )
}
