/** The fast JSON-value check: what it takes, what it refuses, and how deep it looks. */
import { describe, expect, it } from 'vitest'
import { isJsonValue, jsonValueSchema } from '../../src/shared/json.js'
import { MAX_NESTING_DEPTH } from '../../src/shared/size.js'

/** `levels` containers, each inside the last (arrays, or objects under key `a`), around `leaf`. */
function nested(levels: number, kind: 'array' | 'object', leaf: unknown = 1): unknown {
  let value = leaf
  for (let level = 0; level < levels; level++) value = kind === 'array' ? [value] : { a: value }
  return value
}

describe('isJsonValue', () => {
  it('takes null, booleans, finite numbers, strings, and arrays and plain objects of them', () => {
    const bare = Object.assign(Object.create(null) as object, { a: [1, 'x', true, null] })
    for (const value of [null, true, false, 0, -1.5, '', 'x', [], {}, [1, 'x', { b: [false] }], bare])
      expect(isJsonValue(value)).toBe(true)
  })

  it('refuses what JSON cannot say, at the top or inside', () => {
    class Point {
      x = 1
    }
    const refused = [Number.NaN, Number.POSITIVE_INFINITY, undefined, () => {}, 1n, Symbol('s'), new Date(0)]
    for (const value of [...refused, new Point(), new Map()]) {
      expect(isJsonValue(value)).toBe(false)
      expect(isJsonValue([value])).toBe(false)
      expect(isJsonValue({ a: value })).toBe(false)
    }
    expect(isJsonValue([1, 2, Number.NaN])).toBe(false)
    expect(isJsonValue({ a: 'x', b: Number.NEGATIVE_INFINITY })).toBe(false)
  })

  it.each(['array', 'object'] as const)(
    `takes %ss nested ${MAX_NESTING_DEPTH} levels deep at most`,
    (kind) => {
      expect(isJsonValue(nested(MAX_NESTING_DEPTH, kind))).toBe(true)
      expect(isJsonValue(nested(MAX_NESTING_DEPTH + 1, kind))).toBe(false)
      // Numbers and strings in the innermost container count no level of their own.
      expect(isJsonValue(nested(MAX_NESTING_DEPTH, kind, 'x'))).toBe(true)
    },
  )

  it('refuses a cycle, by its depth, without overflowing the stack', () => {
    const cycle: { self?: unknown } = {}
    cycle.self = cycle
    const list: unknown[] = []
    list.push(list)
    expect(isJsonValue(cycle)).toBe(false)
    expect(isJsonValue(list)).toBe(false)
  })

  it('is what jsonValueSchema accepts, with a message saying what a JSON value is', () => {
    expect(jsonValueSchema.safeParse({ a: [1] }).success).toBe(true)
    const refused = jsonValueSchema.safeParse({ a: Number.NaN })
    expect(refused.success).toBe(false)
    expect(refused.error?.issues[0]?.message).toBe(
      'expected a JSON value (null, boolean, finite number, string, or an array or plain object of JSON values)',
    )
  })
})
