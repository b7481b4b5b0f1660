/**
 * A tail message's text: its data on one line (the summary column), and what the search reads (its
 * id, its correlation id and that line). Both are written once per message: the tail redraws its
 * rows and re-filters at every batch it gets, several times a second.
 */
import { oneLine } from './format.js'

interface TailMessage {
  id: string
  correlationId?: string | undefined
  payload: { data: unknown }
}

interface Texts {
  line: string
  /** Lower-cased; made at the first search, not for every message shown. */
  searchable?: string
}

const texts = new WeakMap<TailMessage, Texts>()

function textsOf(message: TailMessage): Texts {
  let known = texts.get(message)
  if (known === undefined) {
    known = { line: oneLine(message.payload.data) }
    texts.set(message, known)
  }
  return known
}

/** The message's data on one line, as `show` writes it: Dates, Maps, Sets and BigInts as such. */
export function dataLine(message: TailMessage): string {
  return textsOf(message).line
}

/**
 * Whether the message's id, correlation id or data line contains `query`, ignoring case. Searching
 * a request's id finds the request and every reply that names it.
 */
export function matchesSearch(message: TailMessage, query: string): boolean {
  const wanted = query.trim().toLowerCase()
  if (wanted === '') return true
  const known = textsOf(message)
  known.searchable ??= [message.id, message.correlationId ?? '', known.line].join('\n').toLowerCase()
  return known.searchable.includes(wanted)
}
