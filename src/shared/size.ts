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
 * Tokens are counted in the same number as the units, scaled by 2^32 (a message can have neither
 * 2^32 units nor 2^21 tokens within any sane limit), which keeps the walk to one return value.
 */
const TOKEN = 2 ** 32

/** UTF-16 units of every string and key in `value`, plus TOKEN per token. */
function measure(value: unknown, depth: number): number {
  if (typeof value === 'string') return TOKEN + value.length
  if (typeof value !== 'object' || value === null) return TOKEN
  if (depth >= MAX_NESTING_DEPTH) throw new NestingTooDeepError()
  let total = TOKEN
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) total += measure(value[i], depth + 1)
    return total
  }
  if (value instanceof Date) return TOKEN + 24
  if (value instanceof Map) {
    for (const [key, item] of value) total += measure(key, depth + 1) + measure(item, depth + 1)
    return total
  }
  if (value instanceof Set) {
    for (const item of value) total += measure(item, depth + 1)
    return total
  }
  // for…in is the fastest walk over plain (and frozen) objects; inherited enumerable keys, if any,
  // only make the bound looser.
  for (const key in value)
    total += TOKEN + key.length + measure((value as Record<string, unknown>)[key], depth + 1)
  return total
}

const utf8 = new TextEncoder()

/**
 * The UTF-8 length of the value's superjson encoding (or a lower bound of it) if that exceeds
 * `limit`, else `undefined`.
 * @throws NestingTooDeepError for values nested deeper than {@link MAX_NESTING_DEPTH}
 */
export function encodedSizeOver(value: unknown, limit: number): number | undefined {
  const measured = measure(value, 0)
  const tokens = Math.floor(measured / TOKEN)
  const units = measured - tokens * TOKEN
  if (units * UNIT_MAX + tokens * TOKEN_MAX <= limit) return undefined
  if (units + tokens > limit) return units + tokens
  const exact = utf8.encode(superjson.stringify(value)).length
  return exact > limit ? exact : undefined
}
