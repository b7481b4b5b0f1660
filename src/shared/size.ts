/**
 * Message size limits without serializing on the hot path. A walk computes a lower and an upper
 * bound of the UTF-8 length of the value's JSON (superjson) encoding; only when the limit lies
 * between the two is the value actually encoded and measured. The same walk refuses what cannot be
 * encoded at all, so a message the bus accepts can travel to every kind of endpoint.
 */
import superjson from 'superjson'

/** Deeper values are refused outright: they are either cyclic or abusive. */
export const MAX_NESTING_DEPTH = 128

/**
 * Keys superjson refuses to encode (a prototype pollution risk for whoever decodes them), so a
 * message holding one as an own key could not reach a WebSocket endpoint: the bus refuses it
 * everywhere. Three comparisons of internalized strings, not a set lookup: the walk runs per key.
 */
export function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype'
}

/**
 * A value that cannot be encoded for every transport; the message says why, `path` says where
 * when one key or value is to blame (absent for a value nested too deeply or refused by superjson).
 */
export class UnencodableValueError extends Error {
  constructor(
    message: string,
    readonly path?: (string | number)[],
  ) {
    super(message)
  }
}

function nestedTooDeep(): UnencodableValueError {
  return new UnencodableValueError(
    `the value is nested deeper than ${MAX_NESTING_DEPTH} levels (or is cyclic)`,
  )
}

/** Tags (Symbol.toStringTag) of objects a structured clone refuses, besides functions and symbols. */
const UNCLONEABLE_TAGS: ReadonlySet<string> = new Set([
  'Promise',
  'WeakMap',
  'WeakSet',
  'WeakRef',
  'FinalizationRegistry',
  'Generator',
  'AsyncGenerator',
  'Array Iterator',
  'Map Iterator',
  'Set Iterator',
  'String Iterator',
  'RegExp String Iterator',
  'Iterator',
])

/**
 * What `value` is when no other process can receive it (a structured clone throws on it), else
 * undefined. Plain objects are settled by their prototype, so the tag is read only for others.
 */
function uncloneable(value: unknown): string | undefined {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  if (typeof value !== 'object' || value === null) return undefined
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype === Object.prototype || prototype === null) return undefined
  const tag = Object.prototype.toString.call(value).slice(8, -1)
  return UNCLONEABLE_TAGS.has(tag) ? `a ${tag}` : undefined
}

/** Thrown inside the walk, which keeps no path: a forbidden own key, or a value that cannot travel. */
class Refused {
  constructor(
    readonly key: string | undefined,
    readonly value: unknown,
  ) {}
}

type PathTest = (key: string | number, child: unknown) => boolean

/** The path to the first child of `value` (at any depth) that passes `test`; run only on refusal. */
function findPath(value: unknown, test: PathTest, depth = 0): (string | number)[] | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_NESTING_DEPTH) return undefined
  const children: [(string | number)[], unknown][] =
    value instanceof Map
      ? [...value].flatMap(([k, v], index): [(string | number)[], unknown][] => [
          [[index, 'key'], k],
          [[index, 'value'], v],
        ])
      : value instanceof Set || Array.isArray(value)
        ? [...value].map((item, index) => [[index], item])
        : Object.entries(value).map(([key, item]) => [[key], item])
  for (const [steps, child] of children) {
    if (test(steps[0] as string | number, child)) return steps
    const found = findPath(child, test, depth + 1)
    if (found !== undefined) return [...steps, ...found]
  }
  return undefined
}

function explain(root: unknown, refused: Refused): UnencodableValueError {
  const { key, value } = refused
  if (key !== undefined) {
    // Own keys only, as the walk refused: the path lists an object's own entries, no inherited ones.
    const path = findPath(root, (name) => name === key) ?? [key]
    return new UnencodableValueError(
      `the key '${key}' (at ${path.join('.')}) is not allowed: WebSocket endpoints could not decode it safely (a prototype pollution risk)`,
      path,
    )
  }
  const path = findPath(root, (_, child) => child === value) ?? []
  return new UnencodableValueError(
    `${path.join('.') || 'the message'} is ${uncloneable(value)}, which cannot travel to another process`,
    path,
  )
}

// Bounds per token (string, key, number, literal, container): at least 1 byte each; at most the
// worst case of a 24-character number, its separator and a superjson meta entry (path and tag).
const TOKEN_MAX = 100
// A UTF-16 unit takes 1 to 3 UTF-8 bytes, or 6 as a JSON escape (\uXXXX); a surrogate pair 4.
const UNIT_MAX = 6
/** What the walk counts for a Date: the length of its ISO string. */
const DATE_UNITS = 24

/**
 * What the walk counts: UTF-16 units of every string and key, and tokens. Kept in two small
 * integers outside the walk rather than returned from it: a recursive function returning a sum
 * boxes it in a fresh heap number at every return (~190 bytes of garbage per benchmark message).
 */
let walkedUnits = 0
let walkedTokens = 0

/**
 * Counts one value: a leaf at once, a container by walking it. Leaves are counted here, in the
 * caller's loop, rather than in a call of their own: most of a message's values are strings and
 * numbers, and a call per leaf made the walk ~20 % slower per message (measured on the benchmark's
 * keystroke). `depth` is its container's.
 */
function visit(value: unknown, depth: number): void {
  walkedTokens++
  if (typeof value === 'string') walkedUnits += value.length
  else if (typeof value === 'object') {
    if (value !== null) walkContainer(value, depth + 1)
  } else if (typeof value === 'function' || typeof value === 'symbol') throw new Refused(undefined, value)
}

function walkContainer(value: object, depth: number): void {
  if (depth >= MAX_NESTING_DEPTH) throw nestedTooDeep()
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) visit(value[i], depth)
    return
  }
  if (value instanceof Date) {
    walkedUnits += DATE_UNITS
    return
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      visit(key, depth)
      visit(item, depth)
    }
    return
  }
  if (value instanceof Set) {
    for (const item of value) visit(item, depth)
    return
  }
  // for…in is the fastest walk over plain (and frozen) objects; inherited enumerable keys, if any,
  // only make the bound looser.
  let keys = 0
  for (const key in value) {
    if (isForbiddenKey(key) && Object.hasOwn(value, key)) throw new Refused(key, undefined)
    walkedTokens++
    walkedUnits += key.length
    visit((value as Record<string, unknown>)[key], depth)
    keys++
  }
  // Promises, weak collections and iterators have no keys of their own: only keyless objects
  // are asked what they are (one that was given keys is left to the sender's own check).
  if (keys === 0 && uncloneable(value) !== undefined) throw new Refused(undefined, value)
}

/** Whether the walk counts `value` by its keys: an object, and none of the containers it treats apart. */
function isWalkedByKeys(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Map) &&
    !(value instanceof Set)
  )
}

/**
 * Counts `value` exactly as the walk would, walking only its data, when it is a message envelope
 * whose enumerable keys are the envelope's with the values its schema asks for (strings, a Date, a
 * number) around a payload of `type` and `data`; else counts nothing and returns false. Nearly every
 * message is one, and the generic walk's tests per key and per container cost its header ~25 ns
 * of ~160 on the benchmark's keystroke (docs/performance.md, *Run AAA*).
 */
function countedAsEnvelope(value: unknown): boolean {
  if (!isWalkedByKeys(value)) return false
  let units = 0
  let keys = 0
  let payload: unknown
  for (const key in value) {
    const item = value[key]
    switch (key) {
      case 'id':
      case 'source':
      case 'correlationId':
        if (typeof item !== 'string') return false
        units += item.length
        break
      case 'timestamp':
        if (!(item instanceof Date)) return false
        units += DATE_UNITS
        break
      case 'priority':
        if (typeof item !== 'number') return false
        break
      case 'payload':
        payload = item
        break
      default:
        return false
    }
    units += key.length
    keys++
  }
  if (!isWalkedByKeys(payload)) return false
  let data: unknown
  let payloadKeys = 0
  for (const key in payload) {
    const item = payload[key]
    if (key === 'type') {
      if (typeof item !== 'string') return false
      units += item.length
    } else if (key === 'data') data = item
    else return false
    units += key.length
    payloadKeys++
  }
  if (payloadKeys !== 2) return false
  // The root, and each key and value but the data, whose visit counts itself.
  walkedTokens += 1 + 2 * keys + 2 * payloadKeys - 1
  walkedUnits += units
  visit(data, 1) // in the payload, in the root
  return true
}

const utf8 = new TextEncoder()

/**
 * The UTF-8 length of the value's superjson encoding (or a lower bound of it) if that exceeds
 * `limit`, else `undefined`.
 * @throws UnencodableValueError for values nested deeper than {@link MAX_NESTING_DEPTH}, holding a
 * key superjson refuses (`__proto__`, `constructor`, `prototype`) or a value a structured clone
 * refuses (a function, a symbol, a Promise …), or that superjson cannot encode
 */
export function encodedSizeOver(value: unknown, limit: number): number | undefined {
  // The counts of a walk already under way (a Map subclass's iterator could publish, and
  // measure, from inside one) are put back afterwards.
  const outerUnits = walkedUnits
  const outerTokens = walkedTokens
  walkedUnits = 0
  walkedTokens = 0
  let units: number
  let tokens: number
  try {
    if (!countedAsEnvelope(value)) visit(value, -1) // the root is in no container
    units = walkedUnits
    tokens = walkedTokens
  } catch (error) {
    throw error instanceof Refused ? explain(value, error) : error
  } finally {
    walkedUnits = outerUnits
    walkedTokens = outerTokens
  }
  if (units * UNIT_MAX + tokens * TOKEN_MAX <= limit) return undefined
  if (units + tokens > limit) return units + tokens
  let encoded: string
  try {
    encoded = superjson.stringify(value)
  } catch (error) {
    throw new UnencodableValueError(`superjson cannot encode the value: ${(error as Error).message}`)
  }
  const exact = utf8.encode(encoded).length
  return exact > limit ? exact : undefined
}
