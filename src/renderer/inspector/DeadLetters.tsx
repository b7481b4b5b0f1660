/**
 * Dead letters: what failed for good, why, how often, the last error, and the message itself;
 * filtered by reason and subscriber; replay or purge one, the selected ones, or all those shown,
 * with the outcome shown. Purging all asks for a second click.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import type { ConnectionState, SkellyBusApi, SkellyBusError } from '../../preload/skelly-bus.js'
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterReason,
  matchesDeadLetterFilter,
} from '../../shared/dead-letter.js'
import { REASON_MEANING } from './dead-letter-reasons.js'
import { FilterSelect } from './FilterSelect.js'
import { age, counted } from './format.js'
import { PayloadRow } from './PayloadRow.js'
import { ColumnWidths, entryRows, useWindowedRows, WindowedEntries } from './windowed-rows.js'

/**
 * The columns' widths: select, type, subscriber, reason, attempts, last error (what is left, its
 * whole text in its title), age, actions. Each fixed one fits its widest value whole (the catalog's
 * longest type, SubscriberUnavailable, "11d 23h ago"): a cut reason or age would say nothing.
 */
const COLUMN_WIDTHS = ['44px', '180px', '130px', '195px', '86px', 'auto', '115px', '200px']
/** An entry's height before it is measured: one row of text, without its payload. */
const ENTRY_PX = 37

/** A listing that failed is tried again after this long (the list may have changed meanwhile). */
const RETRY_MS = 2000
/** How long "Purge all" waits for the second click that confirms it. */
const CONFIRM_MS = 4000

/**
 * `changes` is the metrics' count of entries added and removed: the list is read again when it
 * moves, on every (re)connection (`connection`) and after a failed listing, never on a timer
 * otherwise. Listing a thousand entries every 2 s took the hub's thread 2 % of its time while the
 * view was open, for a list that had not changed.
 */
export function DeadLetters({
  bus,
  changes,
  connection,
}: {
  bus: SkellyBusApi
  changes: number | undefined
  connection: ConnectionState
}) {
  // Undefined until the first listing arrives: an empty table would claim nothing failed.
  const [entries, setEntries] = useState<DeadLetterEntry[]>()
  // An object, new at each failure, so that each failed listing schedules its own retry.
  const [listError, setListError] = useState<{ text: string }>()
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [expanded, setExpanded] = useState<string>()
  const [outcome, setOutcome] = useState<{ text: string; bad: boolean }>()
  const [reason, setReason] = useState('')
  const [subscriber, setSubscriber] = useState('')
  const [confirmingPurge, setConfirmingPurge] = useState(false)
  const confirmTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  useEffect(() => () => clearTimeout(confirmTimer.current), [])

  const refresh = useCallback(() => {
    bus.deadLetters.list().then(
      (list) => {
        setEntries(list)
        setListError(undefined)
        setSelected((current) => new Set([...current].filter((id) => list.some((e) => e.id === id))))
      },
      (e: SkellyBusError) => setListError({ text: `Could not list dead letters: ${e.message}` }),
    )
  }, [bus])

  useEffect(() => {
    if (connection === 'open') refresh()
  }, [refresh, changes, connection])
  // While the connection is down, the reconnection lists instead.
  useEffect(() => {
    if (listError === undefined || connection !== 'open') return
    const timer = setTimeout(refresh, RETRY_MS)
    return () => clearTimeout(timer)
  }, [refresh, listError, connection])

  // The filters as the selector the bus applies (to entries listed since, too), and what it shows.
  const filter: DeadLetterFilter | undefined =
    reason === '' && subscriber === ''
      ? undefined
      : {
          ...(reason === '' ? {} : { reason: reason as DeadLetterReason }),
          ...(subscriber === '' ? {} : { module: subscriber }),
        }
  // Newest failure first: the bus lists them oldest first, and with hundreds held, what just
  // failed would sit at the bottom of the page.
  const listed = (
    filter ? (entries ?? []).filter((e) => matchesDeadLetterFilter(e, filter)) : [...(entries ?? [])]
  ).sort((a, b) => b.lastFailedAt.getTime() - a.lastFailedAt.getTime())
  // A selected row the filters hide is not acted on.
  const chosen = listed.filter((e) => selected.has(e.id)).map((e) => e.id)
  // A thousand held, each drawn again at every listing and scroll: only those in view are drawn.
  const drawn = useWindowedRows(listed.length, ENTRY_PX, (index) => listed[index]?.id ?? String(index))
  const { rowCount, rowIndex } = entryRows(
    listed.length,
    listed.findIndex((e) => e.id === expanded),
  )

  async function act(action: 'replay' | 'purge', ids: string[] | undefined) {
    const label = ids ? `${ids.length} selected` : filter ? 'all shown' : 'all'
    const selector = ids ?? filter
    try {
      if (action === 'replay') {
        const result = await bus.deadLetters.replay(selector ?? {})
        const failed = result.failed.map((f) => f.error)
        setOutcome({
          text: `Replayed ${result.replayed.length} of ${label}.${failed.length ? ` ${failed.length} not replayed: ${[...new Set(failed)].join('; ')}` : ''}`,
          bad: failed.length > 0,
        })
      } else {
        const purged = await bus.deadLetters.purge(selector)
        setOutcome({ text: `Purged ${purged} of ${label}.`, bad: false })
      }
    } catch (e) {
      setOutcome({ text: `${action} failed: ${(e as SkellyBusError).message}`, bad: true })
    }
    setSelected(new Set())
    refresh()
  }

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current)
      if (!next.delete(id)) next.add(id)
      return next
    })
  function purgeAll() {
    clearTimeout(confirmTimer.current)
    if (!confirmingPurge) {
      setConfirmingPurge(true)
      confirmTimer.current = setTimeout(() => setConfirmingPurge(false), CONFIRM_MS)
      return
    }
    setConfirmingPurge(false)
    void act('purge', undefined)
  }

  // Away from the hub, an action would wait for the next connection and then apply to a list that
  // may have changed since (purge all shown, minutes later): none is offered until it is back.
  const offline = connection !== 'open'
  /** An action button's state: off while away from the hub, saying why, or while it has nothing to act on. */
  const actionable = (nothingToActOn = false) => ({
    disabled: offline || nothingToActOn,
    title: offline ? 'Not connected to the hub' : undefined,
  })
  const now = Date.now()
  return (
    <div class="dead-letters">
      <div class="toolbar">
        <span data-testid="dlq-count">
          {entries === undefined
            ? 'Listing dead letters…'
            : `${counted(entries.length, 'dead letter')}${filter ? `, ${listed.length} shown` : ''}`}
        </span>
        <FilterSelect
          label="reason"
          values={(entries ?? []).map((e) => e.reason)}
          value={reason}
          onChange={setReason}
          testId="dlq-filter-reason"
        />
        <FilterSelect
          label="subscriber"
          values={(entries ?? []).map((e) => e.module)}
          value={subscriber}
          onChange={setSubscriber}
          testId="dlq-filter-subscriber"
        />
        <button
          type="button"
          {...actionable(chosen.length === 0)}
          onClick={() => act('replay', chosen)}
          data-testid="replay-selected"
        >
          Replay selected ({chosen.length})
        </button>
        <button
          type="button"
          {...actionable(chosen.length === 0)}
          class="danger"
          onClick={() => act('purge', chosen)}
          data-testid="purge-selected"
        >
          Purge selected
        </button>
        <span class="spacer" />
        <button
          type="button"
          {...actionable(listed.length === 0)}
          onClick={() => act('replay', undefined)}
          data-testid="replay-all"
        >
          {filter ? `Replay all shown (${listed.length})` : 'Replay all'}
        </button>
        <button
          type="button"
          {...actionable(listed.length === 0)}
          class="danger"
          onClick={purgeAll}
          data-testid="purge-all"
        >
          {confirmingPurge
            ? `Purge ${filter ? `${listed.length} shown` : `all ${listed.length}`}? Click again`
            : filter
              ? `Purge all shown (${listed.length})`
              : 'Purge all'}
        </button>
      </div>
      {outcome && (
        <p class={`outcome ${outcome.bad ? 'bad' : 'ok'}`} role="status" data-testid="dlq-outcome">
          {outcome.text}
        </p>
      )}
      {listError && (
        <p class="outcome bad" role="alert" data-testid="dlq-list-error">
          {listError.text}
          {entries === undefined ? '' : ' (the list below may be out of date)'}
        </p>
      )}
      {entries === undefined ? (
        listError === undefined && <p class="empty">Listing dead letters…</p>
      ) : entries.length === 0 ? (
        <p class="empty">Nothing has failed for good.</p>
      ) : listed.length === 0 ? (
        <p class="empty">No dead letter has this reason and subscriber.</p>
      ) : (
        <div class="table-scroll table-window to-bottom" ref={drawn.scrollRef}>
          <table class="grid dead-letters-table" data-testid="dead-letters" aria-rowcount={rowCount}>
            <ColumnWidths widths={COLUMN_WIDTHS} />
            <thead>
              <tr aria-rowindex={1}>
                <th />
                <th>type</th>
                <th>subscriber</th>
                <th>reason</th>
                <th class="num">attempts</th>
                <th>last error</th>
                <th>age</th>
                <th />
              </tr>
            </thead>
            <WindowedEntries drawn={drawn} entries={listed} columns={COLUMN_WIDTHS.length}>
              {(entry, index) => (
                <>
                  <tr
                    class={selected.has(entry.id) ? 'selected' : ''}
                    data-testid="dead-letter"
                    aria-rowindex={rowIndex(index)}
                  >
                    <td>
                      <input
                        type="checkbox"
                        aria-label="select"
                        checked={selected.has(entry.id)}
                        onChange={() => toggle(entry.id)}
                      />
                    </td>
                    <td>{entry.message.payload.type}</td>
                    <td>{entry.module}</td>
                    <td>
                      <span class="pill bad" data-testid="dlq-reason" title={REASON_MEANING[entry.reason]}>
                        {entry.reason}
                      </span>
                    </td>
                    <td class="num">{entry.attempts}</td>
                    {entry.lastError === undefined ? (
                      // Never tried, or no error to show: say why it is here instead.
                      <td class="error-text muted" data-testid="dlq-why" title={REASON_MEANING[entry.reason]}>
                        {REASON_MEANING[entry.reason]}
                      </td>
                    ) : (
                      <td class="mono error-text" data-testid="dlq-why" title={entry.lastError}>
                        {entry.lastError}
                      </td>
                    )}
                    <td title={entry.lastFailedAt.toLocaleString()}>{age(entry.lastFailedAt, now)}</td>
                    <td class="actions">
                      <button
                        type="button"
                        class="link"
                        onClick={() => setExpanded(expanded === entry.id ? undefined : entry.id)}
                      >
                        {expanded === entry.id ? 'hide' : 'payload'}
                      </button>
                      <button
                        type="button"
                        class="link"
                        {...actionable()}
                        onClick={() => act('replay', [entry.id])}
                        data-testid="replay-one"
                      >
                        replay
                      </button>
                      <button
                        type="button"
                        class="link danger"
                        {...actionable()}
                        onClick={() => act('purge', [entry.id])}
                      >
                        purge
                      </button>
                    </td>
                  </tr>
                  {expanded === entry.id && (
                    <PayloadRow message={entry.message} columns={COLUMN_WIDTHS.length} />
                  )}
                </>
              )}
            </WindowedEntries>
          </table>
        </div>
      )}
    </div>
  )
}
