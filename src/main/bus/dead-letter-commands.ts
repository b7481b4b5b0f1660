/**
 * What the bus's callers may do with its dead letters: list, replay and purge them by a filter or
 * by ids, each selector checked first. Replay needs the bus's router, so the bus hands in how one
 * entry is enqueued again; the rest is here, on top of the store's `select` and `remove`.
 */
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterSelector,
  deadLetterFilterSchema,
  type ReplayResult,
} from '../../shared/dead-letter.js'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import type { DeadLetterStore } from './dead-letters.js'

/** Dead-letter queue operations. */
export interface DeadLetters {
  /** Entries, oldest first, optionally filtered by reason, module, subscription or message type. */
  list(filter?: DeadLetterFilter): DeadLetterEntry[]
  /**
   * Enqueues the selected entries again for their original subscription (or routes them afresh if it
   * is gone) and removes each once it is enqueued.
   */
  replay(selector: DeadLetterSelector | string): Promise<ReplayResult>
  /** Removes the selected entries (all of them without a selector); resolves with how many. */
  purge(selector?: DeadLetterSelector | string): Promise<number>
}

/** What the commands need of the bus. */
export interface DeadLetterBus {
  readonly store: DeadLetterStore
  /** Whether `type` is in the bus's catalog. */
  knows(type: string): boolean
  /** @throws EventBusError when the bus does not take messages now (a replay is refused then) */
  assertRunning(): void
  /** Enqueues one dead letter again; returns why it could not be, if so. */
  requeue(entry: DeadLetterEntry): string | undefined
}

const NO_SUCH_DEAD_LETTER = 'no dead letter has this id (replayed, purged or evicted already?)'

/**
 * An entry as `list` hands it out: frozen, with Dates of its own (`setTime` changes even a frozen
 * Date). Its message is the one that was published, as handlers get it: treat its data as read-only.
 */
function readOnlyCopy(entry: DeadLetterEntry): DeadLetterEntry {
  return Object.freeze({
    ...entry,
    firstFailedAt: new Date(entry.firstFailedAt),
    lastFailedAt: new Date(entry.lastFailedAt),
  })
}

/** The dead-letter commands of `bus`. */
export function deadLetterCommands(bus: DeadLetterBus): DeadLetters {
  const select = (selector: unknown) => bus.store.select(parseSelector(selector, bus.knows))
  return {
    list: (filter) => select(filter ?? {}).map(readOnlyCopy),
    replay(selector) {
      try {
        bus.assertRunning()
        return Promise.resolve(replay(bus, parseSelector(selector, bus.knows)))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    purge(selector) {
      try {
        const entries = select(selector ?? {})
        for (const entry of entries) bus.store.remove(entry.id)
        return Promise.resolve(entries.length)
      } catch (error) {
        return Promise.reject(error)
      }
    },
  }
}

/**
 * A selector as given (ids, one id, or a filter), checked.
 * @throws EventBusError `InvalidFilter` naming what is wrong
 */
function parseSelector(selector: unknown, knows: (type: string) => boolean): DeadLetterSelector {
  if (typeof selector === 'string') return [selector]
  if (Array.isArray(selector)) {
    if (selector.every((id) => typeof id === 'string')) return selector
    throw EventBusError.of('InvalidFilter', { reason: 'dead-letter ids must be strings' })
  }
  const parsed = deadLetterFilterSchema.safeParse(selector)
  if (!parsed.success) {
    throw EventBusError.of('InvalidFilter', {
      reason: `${firstIssue(parsed.error, 'dead-letter filter')} (fields: reason, module, subscriptionId, type)`,
    })
  }
  const { type } = parsed.data
  if (type !== undefined && !knows(type))
    throw EventBusError.of('InvalidFilter', {
      reason: `dead-letter filter.type: unknown message type '${type}'`,
    })
  return parsed.data
}

function replay(bus: DeadLetterBus, selector: DeadLetterSelector): ReplayResult {
  const entries = bus.store.select(selector)
  const result: ReplayResult = { replayed: [], failed: [] }
  // An id asked for by name and not there is said so, not passed over: the caller may hold an
  // id another inspector already replayed or purged, or one evicted since.
  if (Array.isArray(selector)) {
    const found = new Set(entries.map((entry) => entry.id))
    for (const id of new Set<string>(selector)) {
      if (!found.has(id)) result.failed.push({ id, error: NO_SUCH_DEAD_LETTER })
    }
  }
  for (const entry of entries) {
    const error = bus.requeue(entry)
    if (error === undefined) {
      bus.store.remove(entry.id)
      result.replayed.push(entry.id)
    } else {
      result.failed.push({ id: entry.id, error })
    }
  }
  return result
}
