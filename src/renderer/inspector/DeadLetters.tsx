/**
 * Dead letters: what failed for good, why, how often, the last error, and the message itself;
 * replay or purge one, the selected ones, or all, with the outcome shown.
 */
import { useCallback, useEffect, useState } from 'preact/hooks'
import type { SkellyBusApi, SkellyBusError } from '../../preload/skelly-bus.js'
import type { DeadLetterEntry } from '../../shared/dead-letter.js'
import { REASON_MEANING } from './dead-letter-reasons.js'
import { age } from './format.js'
import { PayloadRow } from './PayloadRow.js'

/** Re-reads the list this often, and whenever the count in the metrics changes. */
const REFRESH_MS = 2000

export function DeadLetters({ bus, size }: { bus: SkellyBusApi; size: number }) {
  // Undefined until the first listing arrives: an empty table would claim nothing failed.
  const [entries, setEntries] = useState<DeadLetterEntry[]>()
  const [listError, setListError] = useState<string>()
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [expanded, setExpanded] = useState<string>()
  const [outcome, setOutcome] = useState<{ text: string; bad: boolean }>()

  const refresh = useCallback(() => {
    bus.deadLetters.list().then(
      (list) => {
        setEntries(list)
        setListError(undefined)
        setSelected((current) => new Set([...current].filter((id) => list.some((e) => e.id === id))))
      },
      (e: SkellyBusError) => setListError(`Could not list dead letters: ${e.message}`),
    )
  }, [bus])

  useEffect(() => {
    refresh()
    const timer = setInterval(refresh, REFRESH_MS)
    return () => clearInterval(timer)
  }, [refresh])
  useEffect(refresh, [size])

  async function act(action: 'replay' | 'purge', ids: string[] | undefined) {
    const label = ids ? `${ids.length} selected` : 'all'
    try {
      if (action === 'replay') {
        const result = await bus.deadLetters.replay(ids ?? {})
        const failed = result.failed.map((f) => f.error)
        setOutcome({
          text: `Replayed ${result.replayed.length} of ${label}.${failed.length ? ` ${failed.length} not replayed: ${[...new Set(failed)].join('; ')}` : ''}`,
          bad: failed.length > 0,
        })
      } else {
        const purged = await bus.deadLetters.purge(ids)
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
  const now = Date.now()
  const listed = entries ?? []
  return (
    <div class="dead-letters">
      <div class="toolbar">
        <span data-testid="dlq-count">
          {entries === undefined
            ? 'Listing dead letters…'
            : `${entries.length} dead letter${entries.length === 1 ? '' : 's'}`}
        </span>
        <button
          type="button"
          disabled={selected.size === 0}
          onClick={() => act('replay', [...selected])}
          data-testid="replay-selected"
        >
          Replay selected ({selected.size})
        </button>
        <button
          type="button"
          disabled={selected.size === 0}
          class="danger"
          onClick={() => act('purge', [...selected])}
          data-testid="purge-selected"
        >
          Purge selected
        </button>
        <span class="spacer" />
        <button
          type="button"
          disabled={listed.length === 0}
          onClick={() => act('replay', undefined)}
          data-testid="replay-all"
        >
          Replay all
        </button>
        <button
          type="button"
          disabled={listed.length === 0}
          class="danger"
          onClick={() => act('purge', undefined)}
          data-testid="purge-all"
        >
          Purge all
        </button>
      </div>
      {outcome && (
        <p class={`outcome ${outcome.bad ? 'bad' : 'ok'}`} role="status" data-testid="dlq-outcome">
          {outcome.text}
        </p>
      )}
      {listError && (
        <p class="outcome bad" role="alert" data-testid="dlq-list-error">
          {listError}
          {entries === undefined ? '' : ' (the list below may be out of date)'}
        </p>
      )}
      {entries === undefined ? (
        listError === undefined && <p class="empty">Listing dead letters…</p>
      ) : entries.length === 0 ? (
        <p class="empty">Nothing has failed for good.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid" data-testid="dead-letters">
            <thead>
              <tr>
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
            <tbody>
              {entries.map((entry) => (
                <>
                  <tr
                    key={entry.id}
                    class={selected.has(entry.id) ? 'selected' : ''}
                    data-testid="dead-letter"
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
                    <td>{age(entry.lastFailedAt, now)}</td>
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
                        onClick={() => act('replay', [entry.id])}
                        data-testid="replay-one"
                      >
                        replay
                      </button>
                      <button type="button" class="link danger" onClick={() => act('purge', [entry.id])}>
                        purge
                      </button>
                    </td>
                  </tr>
                  {expanded === entry.id && (
                    <PayloadRow key={`${entry.id}-payload`} message={entry.message} columns={8} />
                  )}
                </>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
