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

/**
 * What the walk counts: UTF-16 units of every string and key, and tokens. Kept in two small
 * integers outside the walk rather than returned from it: a recursive function returning a sum
 * boxes it in a fresh heap number at every return (~190 bytes of garbage per benchmark message).
 */
let walkedUnits = 0
let walkedTokens = 0

function walk(value: unknown, depth: number): void {
  walkedTokens++
  if (typeof value === 'string') {
    walkedUnits += value.length
    return
  }
  if (typeof value !== 'object' || value === null) return
  if (depth >= MAX_NESTING_DEPTH) throw new NestingTooDeepError()
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], depth + 1)
    return
  }
  if (value instanceof Date) {
    walkedUnits += 24
    return
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      walk(key, depth + 1)
      walk(item, depth + 1)
    }
    return
  }
  if (value instanceof Set) {
    for (const item of value) walk(item, depth + 1)
    return
  }
  // for…in is the fastest walk over plain (and frozen) objects; inherited enumerable keys, if any,
  // only make the bound looser.
  for (const key in value) {
    walkedTokens++
    walkedUnits += key.length
    walk((value as Record<string, unknown>)[key], depth + 1)
  }
}

const utf8 = new TextEncoder()

/**
 * The UTF-8 length of the value's superjson encoding (or a lower bound of it) if that exceeds
 * `limit`, else `undefined`.
 * @throws NestingTooDeepError for values nested deeper than {@link MAX_NESTING_DEPTH}
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
    walk(value, 0)
    units = walkedUnits
    tokens = walkedTokens
  } finally {
    walkedUnits = outerUnits
    walkedTokens = outerTokens
  }
  if (units * UNIT_MAX + tokens * TOKEN_MAX <= limit) return undefined
  if (units + tokens > limit) return units + tokens
  const exact = utf8.encode(superjson.stringify(value)).length
  return exact > limit ? exact : undefined
}
