/**
 * superjson's wire form `{ json, meta? }` without superjson's general walk, for the values messages
 * are made of: JSON values and valid Dates. superjson copies every value into a fresh tree and
 * builds its annotations through several objects per node; a message (two Dates in ~250 bytes of
 * JSON) cost ~10 µs to encode and ~5 µs to decode that way, which made WebSocket endpoints slower
 * than the hub behind them. Here the value itself is the `json`, copied only along the way to its
 * Dates (written as ISO strings, as superjson writes them), and only the Dates' paths are
 * collected; decoding turns the strings at those paths back into Dates in place. Anything else
 * (Map, Set, BigInt, undefined, NaN, −0, a class instance, an object met twice, a Date under a key
 * superjson would escape) is left to superjson itself, so the text on the wire is superjson's,
 * whichever path wrote or reads it.
 */
import superjson from 'superjson'
import { Meetings } from './meetings.js'
import { isForbiddenKey, MAX_NESTING_DEPTH } from './size.js'

export type SuperjsonForm = ReturnType<typeof superjson.serialize>

type DateTag = ['Date']

/**
 * One walk's state, module-level so a walk allocates nothing for it. A walk started from inside
 * another (a getter that encodes) leaves it alone and takes superjson's path instead.
 */
let walking = false
const keyPath: (string | number)[] = []
/** An object met twice is superjson's to note (its identity). */
const met = new Meetings()
let datePaths: Record<string, DateTag> | undefined

/** Whether a key is written into a path as it is (superjson escapes `.` and `\`). */
function plainKey(key: string | number): boolean {
  return typeof key === 'number' || (key.indexOf('.') === -1 && key.indexOf('\\') === -1)
}

/**
 * Notes a Date at the current path; false when the path holds a key superjson would escape (only
 * a Date's path is written, so other keys need no look).
 */
function noteDate(): boolean {
  for (let index = 0; index < keyPath.length; index++)
    if (!plainKey(keyPath[index] as string | number)) return false
  datePaths ??= {}
  datePaths[keyPath.join('.')] = ['Date']
  return true
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`)
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`)

/** The last Date written: a message's Dates, and consecutive messages', often share their millisecond. */
let lastTime = Number.NaN
let lastIso = ''

/** Date#toISOString's output (V8's builtin takes ~0.7 µs here, this a fraction of it). */
export function isoString(date: Date): string {
  const time = date.getTime()
  if (time === lastTime) return lastIso
  lastIso = writeIso(date)
  lastTime = time
  return lastIso
}

/** The last ISO string read, and its time (NaN for one that names no time, as for ''). */
let lastReadIso = ''
let lastReadTime = Number.NaN

/** The longest text remembered: an ISO string is 24 characters, 27 with a six-digit year. */
const MAX_REMEMBERED_ISO = 27

/**
 * `new Date(text)`, for an ISO string as superjson writes a Date. V8's parser takes ~0.2 µs a
 * string here; the text read last is remembered, since a message's Dates and consecutive
 * messages' often share their millisecond (as isoString remembers the last one written). A longer
 * text is no ISO string and is not kept alive after its message.
 */
export function dateFromIso(text: string): Date {
  if (text.length > MAX_REMEMBERED_ISO) return new Date(text)
  if (text !== lastReadIso) {
    lastReadTime = new Date(text).getTime()
    lastReadIso = text
  }
  return new Date(lastReadTime)
}

function writeIso(date: Date): string {
  const year = date.getUTCFullYear()
  if (year < 1000 || year > 9999) return date.toISOString()
  return `${year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${pad3(date.getUTCMilliseconds())}Z`
}

/** What fastJson returns for a value superjson must encode. */
const NOT_FAST = Symbol('not fast')

/**
 * Whether a value that is no object is JSON superjson writes as it is: a string, a boolean, or a
 * finite number other than −0 (NaN, ±Infinity and −0 carry an annotation; undefined, BigInt and
 * the rest are more than JSON).
 */
export function plainScalar(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0)
    default:
      return false
  }
}

/**
 * Whether `value` is a valid Date of the Date class itself, which a fast walk writes as its ISO
 * string and notes; a subclass's instance or an invalid Date is left to superjson.
 */
export function plainDate(value: unknown): value is Date {
  return (
    value instanceof Date && Object.getPrototypeOf(value) === Date.prototype && !Number.isNaN(value.getTime())
  )
}

/**
 * `value` with its Dates written as ISO strings (a container holding one is copied, the rest is
 * shared), noting each Date's path; NOT_FAST when `value` is more than JSON and valid Dates.
 * Dates are written here rather than by JSON.stringify: a toJSON call takes V8's stringifier off
 * its fast path, which tripled the cost of a message.
 */
function fastJson(value: unknown, depth: number): unknown {
  if (typeof value !== 'object') return plainScalar(value) ? value : NOT_FAST
  if (value === null) return value
  // Deeper values take superjson's path, as the bus never accepts them anyway.
  if (depth >= MAX_NESTING_DEPTH || !met.first(value)) return NOT_FAST
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype === Date.prototype) {
    // An invalid Date is written as null by JSON.stringify and left alone by superjson.
    if (!plainDate(value) || !noteDate()) return NOT_FAST
    return isoString(value)
  }
  if (prototype === Array.prototype) {
    const array = value as unknown[]
    let copy: unknown[] | undefined
    for (let index = 0; index < array.length; index++) {
      // A hole reads as undefined, which is more than JSON: the array is superjson's.
      const item = array[index]
      keyPath.push(index)
      const written = fastJson(item, depth + 1)
      keyPath.pop()
      if (written === NOT_FAST) return NOT_FAST
      if (written !== item) {
        copy ??= array.slice()
        copy[index] = written
      }
    }
    return copy ?? array
  }
  if (prototype !== Object.prototype && prototype !== null) return NOT_FAST
  let copy: Record<string, unknown> | undefined
  for (const key in value) {
    if (isForbiddenKey(key)) return NOT_FAST
    const item = (value as Record<string, unknown>)[key]
    keyPath.push(key)
    const written = fastJson(item, depth + 1)
    keyPath.pop()
    if (written === NOT_FAST) return NOT_FAST
    if (written !== item) {
      copy ??= { ...value }
      copy[key] = written
    }
  }
  return copy ?? value
}

/**
 * Where `value` holds something superjson would change without a word (so a message would arrive
 * other than it was sent, and pass checks it failed): a boxed primitive (written as the primitive),
 * binary data (an ArrayBuffer or a view of one, written as a plain object), a hole in an array, an
 * invalid Date. Undefined when there is none. Only values off the fast path are looked at.
 */
function unfaithfulPart(value: unknown, path: string, depth: number, seen: Set<object>): string | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_NESTING_DEPTH || seen.has(value))
    return undefined
  seen.add(value)
  if (value instanceof String || value instanceof Number || value instanceof Boolean)
    return `${path || 'the value'} is a boxed ${typeof value.valueOf()}`
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer)
    return `${path || 'the value'} is binary data (${value.constructor.name})`
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? `${path || 'the value'} is an invalid Date` : undefined
  const at = (key: unknown) => (path === '' ? String(key) : `${path}.${String(key)}`)
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      if (!(index in value)) return `${at(index)} is a hole in a sparse array`
      const found = unfaithfulPart(value[index], at(index), depth + 1, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  const entries: Iterable<[unknown, unknown]> =
    value instanceof Map
      ? value
      : value instanceof Set
        ? [...value].map((item, index) => [index, item] as [unknown, unknown])
        : Object.entries(value)
  for (const [key, item] of entries) {
    const found =
      unfaithfulPart(item, at(key), depth + 1, seen) ?? unfaithfulPart(key, at(key), depth + 1, seen)
    if (found !== undefined) return found
  }
  return undefined
}

/** superjson's form of `value`, or a TypeError naming the part of it superjson would change. */
function superjsonSerialized(value: unknown): SuperjsonForm {
  const unfaithful = unfaithfulPart(value, '', 0, new Set())
  if (unfaithful !== undefined) throw new TypeError(`${unfaithful}: it cannot travel as text unchanged`)
  return superjson.serialize(value)
}

/**
 * The superjson form of `value`, ready for JSON.stringify: the same JSON text superjson's own
 * `serialize` gives (its `meta.values` keys may come in another order). The form may share parts
 * of `value`, so stringify it before `value` changes.
 * @throws what superjson throws for values it cannot encode, and a TypeError for a value it would
 * change without a word (see unfaithfulPart)
 */
export function toSuperjsonForm(value: unknown): SuperjsonForm {
  if (walking) return superjsonSerialized(value)
  let json: unknown
  let values: Record<string, DateTag> | undefined
  walking = true
  try {
    json = fastJson(value, 0)
  } finally {
    walking = false
    values = datePaths
    datePaths = undefined
    keyPath.length = 0
    met.clear()
  }
  // A Date at the root has no path: superjson annotates it as ['Date'], not as a record.
  if (json === NOT_FAST || (values !== undefined && '' in values)) return superjsonSerialized(value)
  if (values === undefined) return { json: json as SuperjsonForm['json'] }
  return { json: json as SuperjsonForm['json'], meta: { values, v: 1 } }
}

/** Where a Date annotation applies: the holder and the key whose string becomes a Date. */
interface DateSlot {
  holder: Record<string, unknown>
  key: string
}

/** The slot at `path` in `json` when every step is an own key and the leaf is a string. */
function dateSlot(json: unknown, path: string): DateSlot | undefined {
  if (path === '' || path.indexOf('\\') !== -1) return undefined
  let holder: unknown = json
  let start = 0
  for (;;) {
    if (typeof holder !== 'object' || holder === null) return undefined
    const dot = path.indexOf('.', start)
    const key = dot === -1 ? path.slice(start) : path.slice(start, dot)
    // superjson refuses these keys in a path (a prototype pollution risk); its refusal is the answer.
    if (isForbiddenKey(key)) return undefined
    if (!Object.hasOwn(holder, key)) return undefined
    const child: unknown = (holder as Record<string, unknown>)[key]
    if (dot === -1)
      return typeof child === 'string' ? { holder: holder as Record<string, unknown>, key } : undefined
    holder = child
    start = dot + 1
  }
}

function isDateTag(tag: unknown): boolean {
  return Array.isArray(tag) && tag.length === 1 && tag[0] === 'Date'
}

/**
 * The paths a form notes as Dates, in its order, when Dates are all it notes (none: an empty
 * list); undefined when it notes anything else.
 */
export function notedDatePaths(form: SuperjsonForm): string[] | undefined {
  const meta: unknown = form.meta
  // superjson reads a null meta as none.
  if (meta === undefined || meta === null) return []
  const { values, referentialEqualities, v } = meta as Record<string, unknown>
  if (v !== 1 || referentialEqualities !== undefined) return undefined
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return undefined
  const paths: string[] = []
  for (const path in values) {
    if (!Object.hasOwn(values, path) || !isDateTag((values as Record<string, unknown>)[path]))
      return undefined
    paths.push(path)
  }
  return paths
}

/** The Date slots of a form whose only annotations are Dates at plain paths, else undefined. */
function dateSlots(form: SuperjsonForm): DateSlot[] | undefined {
  const paths = notedDatePaths(form)
  if (paths === undefined) return undefined
  const slots: DateSlot[] = []
  for (const path of paths) {
    const slot = dateSlot(form.json, path)
    if (slot === undefined) return undefined
    slots.push(slot)
  }
  return slots
}

/**
 * The value a superjson form stands for, as superjson's `deserialize` gives it. The form's `json`
 * is used in place (it comes fresh from JSON.parse).
 * @throws what superjson throws for forms it cannot decode
 */
export function fromSuperjsonForm(form: SuperjsonForm): unknown {
  const slots = dateSlots(form)
  if (slots === undefined) return superjson.deserialize(form)
  for (const { holder, key } of slots) holder[key] = dateFromIso(holder[key] as string)
  return form.json
}
