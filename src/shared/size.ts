/**
 * Message size limits without serializing on the hot path. A walk computes a lower and an upper
 * bound of the UTF-8 length of the value's JSON (superjson) encoding; only when the limit lies
 * between the two is the value actually encoded and measured.
 */
import superjson from 'superjson'

/** Deeper values are refused outright: they are either cyclic or abusive. */
export const MAX_NESTING_DEPTH = 128

export class NestingTooDeepError extends Error {
  constructor() {
    super(`the value is nested deeper than ${MAX_NESTING_DEPTH} levels (or is cyclic)`)
  }
}

// Bounds per token (string, key, number, literal, container): at least 1 byte each; at most the
// worst case of a 24-character number, its separator and a superjson meta entry (path and tag).
const TOKEN_MAX = 100
// A UTF-16 unit takes 1 to 3 UTF-8 bytes, or 6 as a JSON escape (\uXXXX); a surrogate pair 4.
const UNIT_MAX = 6

let tokens = 0

/** UTF-16 units of every string and key in `value`; counts its tokens into `tokens`. */
function unitsIn(value: unknown, depth: number): number {
  tokens++
  if (typeof value === 'string') return value.length
  if (typeof value !== 'object' || value === null) return 0
  if (depth >= MAX_NESTING_DEPTH) throw new NestingTooDeepError()
  let units = 0
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) units += unitsIn(value[i], depth + 1)
    return units
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) {
    if (value instanceof Date) return 24
    if (value instanceof Set) {
      for (const item of value) units += unitsIn(item, depth + 1)
      return units
    }
    if (value instanceof Map) {
      for (const [key, item] of value) units += unitsIn(key, depth + 1) + unitsIn(item, depth + 1)
      return units
    }
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    tokens++
    units += key.length + unitsIn((value as Record<string, unknown>)[key], depth + 1)
  }
  return units
}

const utf8 = new TextEncoder()

/**
 * The UTF-8 length of the value's superjson encoding (or a lower bound of it) if that exceeds
 * `limit`, else `undefined`.
 * @throws NestingTooDeepError for values nested deeper than {@link MAX_NESTING_DEPTH}
 */
export function encodedSizeOver(value: unknown, limit: number): number | undefined {
  tokens = 0
  const units = unitsIn(value, 0)
  if (units * UNIT_MAX + tokens * TOKEN_MAX <= limit) return undefined
  if (units + tokens > limit) return units + tokens
  const exact = utf8.encode(superjson.stringify(value)).length
  return exact > limit ? exact : undefined
}
