import fc from 'fast-check'
import superjson from 'superjson'
import { describe, expect, it } from 'vitest'
import {
  dateFromIso,
  fromSuperjsonForm,
  isoString,
  toSuperjsonForm,
} from '../../src/shared/superjson-form.js'

/** The wire text a form becomes, read back as plain JSON (key order aside, what a peer sees). */
const wire = (form: unknown): unknown => JSON.parse(JSON.stringify(form))

/** Values messages hold: JSON and Dates, and now and then what only superjson can write. */
const richValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.double(), fc.integer()),
    // Invalid Dates are refused, not written (see 'refuses what superjson would change').
    fc.date({ noInvalidDate: true }),
    fc.constantFrom(undefined, Number.NaN, -0, 10n, new Map([['k', new Date(0)]]), new Set([1])),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a.b', 'c\\d', '0', '12')),
      tie('value'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).value

describe('the superjson form of a value', () => {
  it('is the JSON superjson writes, and reads back as superjson reads it', () => {
    fc.assert(
      fc.property(richValue, (value) => {
        const text = JSON.stringify(toSuperjsonForm(value))
        expect(JSON.parse(text)).toEqual(wire(superjson.serialize(value)))
        expect(fromSuperjsonForm(JSON.parse(text))).toEqual(superjson.deserialize(JSON.parse(text)))
      }),
      { numRuns: 2000 },
    )
  })

  it('shares what holds no Date, copies the way to a Date, and leaves the value as it was', () => {
    const data = { key: 'a', modifiers: ['shift'] }
    const at = new Date('2026-12-01T06:00:00.123Z')
    const message = { id: 'm1', payload: { data, at }, list: [1, new Date(at)] }
    const form = toSuperjsonForm(message)
    const json = form.json as { payload: { data: unknown; at: unknown }; list: unknown[] }
    expect(json.payload.data).toBe(data)
    expect(json.payload.at).toBe('2026-12-01T06:00:00.123Z')
    expect(json.list).toEqual([1, '2026-12-01T06:00:00.123Z'])
    expect(message.payload.at).toBe(at)
    expect(message.list[1]).toBeInstanceOf(Date)
    expect(form.meta?.values).toEqual({ 'payload.at': ['Date'], 'list.1': ['Date'] })
  })

  it('refuses what superjson would change without a word, naming where it is', () => {
    // JSON and superjson would write these as something else, which the receiver then takes for
    // what was sent: a publish over a WebSocket must fail as it fails in process instead.
    const unfaithful: [unknown, RegExp][] = [
      [{ id: new String('a') }, /^id is a boxed string/],
      [{ a: { b: [1, new Number(2)] } }, /^a\.b\.1 is a boxed number/],
      [new Boolean(false), /^the value is a boxed boolean/],
      [{ bytes: new Uint8Array([1]) }, /^bytes is binary data \(Uint8Array\)/],
      [{ buffer: new ArrayBuffer(1) }, /^buffer is binary data \(ArrayBuffer\)/],
      // biome-ignore lint/suspicious/noSparseArray: the point is a hole
      [{ list: [1, , 3] }, /^list\.1 is a hole in a sparse array/],
      [{ at: new Date(Number.NaN) }, /^at is an invalid Date/],
      [{ m: new Map([['k', new String('v')]]) }, /^m\.k is a boxed string/],
      [{ m: new Map([[new Number(1), 'v']]) }, /^m\.1 is a boxed number/],
      [new Set([new Uint16Array(1)]), /^0 is binary data \(Uint16Array\)/],
    ]
    for (const [value, where] of unfaithful) {
      expect(() => toSuperjsonForm(value)).toThrow(TypeError)
      expect(() => toSuperjsonForm(value)).toThrow(where)
    }
    // What superjson writes faithfully still goes.
    const faithful = { n: Number.NaN, z: -0, u: undefined, b: 10n, m: new Map([[1, new Set([2])]]), r: /x/g }
    expect(superjson.deserialize(wire(toSuperjsonForm(faithful)) as never)).toEqual(faithful)
  })

  it('refuses the keys superjson refuses, as superjson does', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const value = JSON.parse(`{"a":{"${key}":1}}`)
      expect(() => superjson.serialize(value)).toThrow(key)
      expect(() => toSuperjsonForm(value)).toThrow(key)
    }
  })

  it('leaves to superjson an object met twice, so it arrives as one object', () => {
    const shared = { n: 1 }
    const decoded = superjson.parse<{ a: object; b: object }>(
      JSON.stringify(toSuperjsonForm({ a: shared, b: shared })),
    )
    expect(decoded.a).toBe(decoded.b)
    // Read back by this module too, Dates and all.
    const dated = { at: new Date(0) }
    const read = fromSuperjsonForm(wire(toSuperjsonForm({ a: dated, b: dated })) as never) as {
      a: object
      b: object
    }
    expect(read.a).toBe(read.b)
    expect(read.a).toEqual(dated)
  })

  it('tells an object met twice among many (past the walk’s short list) and keeps many Dates', () => {
    const items = Array.from({ length: 40 }, (_, index) => ({ index, at: new Date(index * 1000) }))
    const fast = toSuperjsonForm({ items })
    expect(wire(fast)).toEqual(wire(superjson.serialize({ items })))
    expect(Object.keys(fast.meta?.values ?? {})).toHaveLength(40)
    const repeated = { items: [...items, items[30]] }
    const decoded = superjson.parse<typeof repeated>(JSON.stringify(toSuperjsonForm(repeated)))
    expect(decoded.items[40]).toBe(decoded.items[30])
  })

  it('keeps its own paths when a getter encodes another value in the middle of the walk', () => {
    const value = {
      at: new Date(0),
      get inner() {
        return toSuperjsonForm({ later: new Date(1) }).json
      },
      end: new Date(2),
    }
    expect(wire(toSuperjsonForm(value))).toEqual(wire(superjson.serialize(value)))
  })

  it('writes Dates of every year as Date#toISOString does, again and in turn with others', () => {
    const date = fc.date({ noInvalidDate: true })
    fc.assert(
      fc.property(date, date, (first, second) => {
        // The same instant twice (the remembered string), another in between, then the first again.
        for (const each of [first, new Date(first.getTime()), second, first])
          expect(isoString(each)).toBe(each.toISOString())
      }),
      { numRuns: 2000 },
    )
  })

  it('reads ISO strings as new Date does, again and in turn with others, a fresh Date each time', () => {
    const text = fc.oneof(
      fc.date().map((date) => (Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString())),
      fc.constantFrom('', 'not a date', '2026-02-30T00:00:00.000Z', '2026-12-03T24:00:00.000Z'),
      fc.string({ maxLength: 30 }),
      fc.date().map((date) => ` ${date.toUTCString()} `.repeat(3)),
    )
    fc.assert(
      fc.property(text, text, (first, second) => {
        // The same text twice (the remembered time), another in between, then the first again.
        for (const each of [first, first, second, first]) {
          const read = dateFromIso(each)
          expect(read.getTime()).toBe(new Date(each).getTime())
          // A handler changing its Date changes nothing the next message is read into.
          read.setTime(0)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('decodes hostile annotations exactly as superjson does: refused, or never outside the value', () => {
    const hostile: unknown[] = [
      { json: { a: 'x' }, meta: { values: { '__proto__.polluted': ['Date'] }, v: 1 } },
      { json: { a: 'x' }, meta: { values: { 'constructor.prototype.polluted': ['Date'] }, v: 1 } },
      { json: { a: 1 }, meta: { values: { a: ['Date'] }, v: 1 } },
      { json: { a: 'x' }, meta: { values: { 'a.b': ['Date'] }, v: 1 } },
      { json: { a: 'x' }, meta: { values: { missing: ['Date'] }, v: 1 } },
      { json: { 'a.b': '2026-01-01T00:00:00.000Z' }, meta: { values: { 'a\\.b': ['Date'] }, v: 1 } },
      // A path naming a key of one backslash, beside a key of the path's two.
      { json: { 'a\\\\b': '2026-01-01T00:00:00.000Z' }, meta: { values: { 'a\\\\b': ['Date'] }, v: 1 } },
      { json: '2026-01-01T00:00:00.000Z', meta: { values: ['Date'], v: 1 } },
      { json: { a: 'x' }, meta: null },
      { json: { a: 'x' }, meta: { values: { a: ['Date', 'extra'] }, v: 1 } },
      { json: { a: 'not a date' }, meta: { values: { a: ['Date'] }, v: 1 } },
      ...['__proto__', 'constructor', 'prototype'].map((key) =>
        JSON.parse(
          `{"json":{"a":{"${key}":"2026-01-01T00:00:00.000Z"}},"meta":{"values":{"a.${key}":["Date"]},"v":1}}`,
        ),
      ),
    ]
    for (const form of hostile) {
      const attempt = (decode: (form: never) => unknown) => {
        try {
          return { value: decode(structuredClone(form) as never) }
        } catch (error) {
          return { threw: (error as Error).message }
        }
      }
      expect(attempt(fromSuperjsonForm)).toEqual(attempt(superjson.deserialize))
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
