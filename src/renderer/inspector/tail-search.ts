/**
 * The message tail's search: a message matches when its id, its correlation id or its data (as the
 * summary column writes it) contains the query, ignoring case. Searching a request's id finds the
 * request and every reply that names it.
 */
import { oneLine } from './format.js'

interface Searchable {
  id: string
  correlationId?: string | undefined
  payload: { data: unknown }
}

/** Each message's searchable text, lower-cased once: the tail re-filters at every batch it gets. */
const texts = new WeakMap<Searchable, string>()

function searchText(message: Searchable): string {
  let text = texts.get(message)
  if (text === undefined) {
    text = [message.id, message.correlationId ?? '', oneLine(message.payload.data)].join('\n').toLowerCase()
    texts.set(message, text)
  }
  return text
}

export function matchesSearch(message: Searchable, query: string): boolean {
  const wanted = query.trim().toLowerCase()
  return wanted === '' || searchText(message).includes(wanted)
}
