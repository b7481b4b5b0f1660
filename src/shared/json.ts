/**
 * A fast JSON-value check. zod's recursive `z.json()` pays for cycle detection and memoization on
 * every parse (about 2.5 µs for a small event); this depth-bounded walk does the same job in tens
 * of nanoseconds and refuses cycles by depth.
 */
import { z } from 'zod'
import { MAX_NESTING_DEPTH } from './size.js'

/** Any JSON value: null, boolean, finite number, string, array or plain object of JSON values. */
export type JsonValue = z.infer<ReturnType<typeof z.json>>

/** Whether `value` is a JSON value nested at most {@link MAX_NESTING_DEPTH} levels. */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object':
      return value === null || isJsonContainer(value, depth)
    default:
      return false
  }
}

/**
 * Whether a non-null object is a JSON array or plain object of JSON values. Strings and numbers,
 * most of an event's values, are judged in the container's loop rather than by a call each.
 */
function isJsonContainer(value: object, depth: number): boolean {
  if (depth >= MAX_NESTING_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isJsonItem(value[i], depth)) return false
    return true
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return false
  for (const key in value) {
    if (!isJsonItem((value as Record<string, unknown>)[key], depth)) return false
  }
  return true
}

function isJsonItem(item: unknown, depth: number): boolean {
  if (typeof item === 'string') return true
  if (typeof item === 'number') return Number.isFinite(item)
  return isJsonValue(item, depth + 1)
}

/** Accepts `JsonValue`s only: null, booleans, finite numbers, strings, and arrays and plain objects of them. */
export const jsonValueSchema = z.custom<JsonValue>((value) => isJsonValue(value), {
  error:
    'expected a JSON value (null, boolean, finite number, string, or an array or plain object of JSON values)',
})
