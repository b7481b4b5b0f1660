import fc from 'fast-check'
import superjson from 'superjson'
import { describe, expect, it } from 'vitest'
import { encodedSizeOver, MAX_NESTING_DEPTH, UnencodableValueError } from '../../src/shared/size.js'

const exactSize = (value: unknown) => new TextEncoder().encode(superjson.stringify(value)).length

const richValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    fc.date({ noInvalidDate: true }),
    fc.string({ unit: 'grapheme' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype')),
      tie('value'),
      {
        maxKeys: 4,
      },
    ),
    fc.array(fc.tuple(fc.string(), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  ),
})).value

describe('encodedSizeOver', () => {
  it('is undefined within the limit and a lower bound of the encoded size over it', () => {
    fc.assert(
      fc.property(richValue, fc.double({ min: 0, max: 2, noNaN: true }), (value, fraction) => {
        let exact: number
        try {
          exact = exactSize(value)
        } catch {
          // What superjson refuses to encode is refused whatever the limit.
          expect(() => encodedSizeOver(value, 0)).toThrow(UnencodableValueError)
          expect(() => encodedSizeOver(value, 1e9)).toThrow(UnencodableValueError)
          return
        }
        const limit = Math.floor(exact * fraction)
        const over = encodedSizeOver(value, limit)
        if (exact <= limit) expect(over).toBeUndefined()
        else {
          expect(over).toBeGreaterThan(limit)
          expect(over).toBeLessThanOrEqual(exact)
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('takes a value of exactly the limit, and refuses it a byte under', () => {
    fc.assert(
      fc.property(richValue, (value) => {
        let exact: number
        try {
          exact = exactSize(value)
        } catch {
          return
        }
        expect(encodedSizeOver(value, exact)).toBeUndefined()
        expect(encodedSizeOver(value, exact - 1)).toBeGreaterThan(exact - 1)
      }),
      { numRuns: 300 },
    )
  })

  it('counts a long string wherever it is: a key or a value, in an object, array, Map or Set', () => {
    const long = 'k'.repeat(2000)
    const places: unknown[] = [
      long,
      { [long]: 1 },
      { data: long },
      [long],
      new Map([[long, 1]]),
      new Map([[1, long]]),
      new Set([long]),
      { id: 'a', payload: { type: long, data: 1 } },
      { id: long, payload: { type: 't', data: 1 } },
    ]
    for (const value of places) expect(encodedSizeOver(value, 1000), String(value)).toBeGreaterThan(1000)
  })

  it('counts what JSON escapes at six bytes a character, and a surrogate pair at four', () => {
    // Each text is 1,000 characters: control characters JSON writes as \u0001, emoji of two units.
    for (const [text, bytesEach] of [
      ['\u0001', 6],
      ['😀', 4],
    ] as const) {
      const value = { data: text.repeat(1000) }
      const exact = exactSize(value)
      expect(exact).toBeGreaterThan(1000 * bytesEach)
      expect(encodedSizeOver(value, exact - 1), text).toBeGreaterThan(exact - 1)
      expect(encodedSizeOver(value, exact)).toBeUndefined()
    }
  })

  it('refuses containers nested deeper than MAX_NESTING_DEPTH, counted from the root, envelope or not', () => {
    const nested = (levels: number): unknown => {
      let value: unknown = 1
      for (let i = 0; i < levels; i++) value = [value]
      return value
    }
    expect(encodedSizeOver(nested(MAX_NESTING_DEPTH), 1e9)).toBeUndefined()
    expect(() => encodedSizeOver(nested(MAX_NESTING_DEPTH + 1), 1e9)).toThrow(
      `nested deeper than ${MAX_NESTING_DEPTH} levels`,
    )
    // The root and the payload are two of the levels; the generic walk counts them as the envelope's does.
    const envelope = (levels: number) => ({ id: 'a', payload: { type: 't', data: nested(levels) } })
    const notEnvelope = (levels: number) => ({ ...envelope(levels), extra: 1 })
    for (const message of [envelope, notEnvelope]) {
      expect(encodedSizeOver(message(MAX_NESTING_DEPTH - 2), 1e9)).toBeUndefined()
      expect(() => encodedSizeOver(message(MAX_NESTING_DEPTH - 1), 1e9)).toThrow(/nested deeper/)
    }
  })

  it('counts a message envelope as the generic walk counts it', () => {
    // Header values mostly as the schema asks, sometimes anything; keys sometimes missing or extra.
    const headerValue = (usual: fc.Arbitrary<unknown>) =>
      fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: richValue })
    const envelope = fc.record(
      {
        id: headerValue(fc.string()),
        timestamp: headerValue(fc.date()),
        source: headerValue(fc.string()),
        priority: headerValue(fc.integer()),
        correlationId: headerValue(fc.string()),
        payload: fc.oneof(
          {
            weight: 4,
            arbitrary: fc.record(
              { type: headerValue(fc.string()), data: richValue },
              { requiredKeys: ['type'] },
            ),
          },
          { weight: 1, arbitrary: richValue },
        ),
        extra: richValue,
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(envelope, (message) => {
        let lowerBound: number | undefined
        try {
          // Over a limit of 0, the result is the walk's lower bound: its units plus its tokens.
          lowerBound = encodedSizeOver(message, 0)
        } catch (error) {
          expect(error).toBeInstanceOf(UnencodableValueError)
          expect(() => encodedSizeOver([message], 0)).toThrow(UnencodableValueError)
          return
        }
        if (lowerBound === undefined) throw new Error('every value is over a limit of 0')
        // Inside an array the message is walked generically, and the array adds one token.
        expect(encodedSizeOver([message], 0)).toBe(lowerBound + 1)
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses keys superjson will not encode, naming the path to them', () => {
    const data = JSON.parse('{"events":[{"ok":1},{"tags":{"__proto__":{"polluted":true}}}]}')
    expect(() => encodedSizeOver({ payload: { data } }, 1e9)).toThrow(
      /the key '__proto__' \(at payload\.data\.events\.1\.tags\.__proto__\) is not allowed/,
    )
    expect(() => encodedSizeOver({ counts: new Map([['a', { constructor: 1 }]]) }, 1e9)).toThrow(
      /the key 'constructor' \(at counts\.0\.value\.constructor\)/,
    )
    // Inherited keys are not the value's own: superjson does not see them, neither does the bound.
    const withPrototype = Object.create({ constructor: 'inherited' }) as object
    expect(encodedSizeOver({ value: withPrototype }, 1e9)).toBeUndefined()
  })

  it('refuses what no other process can receive, naming where it is', () => {
    const cases: [unknown, RegExp][] = [
      [{ data: { onClick: () => 1 } }, /^data\.onClick is a function, which cannot travel/],
      [{ data: [1, Symbol('s')] }, /^data\.1 is a symbol/],
      [{ data: { pending: Promise.resolve(1) } }, /^data\.pending is a Promise/],
      [{ data: new Map([['cache', new WeakMap()]]) }, /^data\.0\.value is a WeakMap/],
      [{ data: new Map([[() => 1, 'handler']]) }, /^data\.0\.key is a function/],
      [{ data: new Set([new Map().entries()]) }, /^data\.0 is a Map Iterator/],
      [{ id: 'a', payload: Promise.resolve() }, /^payload is a Promise/],
    ]
    for (const [value, reason] of cases) expect(() => encodedSizeOver(value, 1e9)).toThrow(reason)
    // Class instances travel as their own fields, as a structured clone copies them.
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(encodedSizeOver({ data: new Point(1, 2), when: new Date() }, 1e9)).toBeUndefined()
    expect(() => structuredClone({ data: new Point(1, 2) })).not.toThrow()
    // An object without a prototype is plain whatever tag it claims.
    const bare = Object.assign(Object.create(null) as object, { [Symbol.toStringTag]: 'Promise' })
    expect(encodedSizeOver({ data: bare }, 1e9)).toBeUndefined()
    expect(() => structuredClone({ data: bare })).not.toThrow()
    for (const [value] of cases) expect(() => structuredClone(value)).toThrow()
  })

  it('measures a value right when measuring runs again from inside its walk', () => {
    const entries: [string, string][] = [
      ['a', 'x'.repeat(300)],
      ['b', 'y'.repeat(300)],
    ]
    // A Map whose iteration measures something else, as a publish from inside it would.
    class Reentrant extends Map<string, string> {
      override *[Symbol.iterator](): MapIterator<[string, string]> {
        for (const entry of entries) {
          encodedSizeOver({ other: 'z'.repeat(50) }, 10)
          yield entry
        }
      }
    }
    const limit = 500
    expect(encodedSizeOver({ data: new Reentrant() }, limit)).toBe(
      encodedSizeOver({ data: new Map(entries) }, limit),
    )
    expect(encodedSizeOver({ data: new Map(entries) }, limit)).toBeGreaterThan(limit)
  })
})
