import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { shapedTextCodec, textCodec, UndecodableFrame } from '../../src/shared/codec.js'
import {
  MAX_SHAPES,
  MAX_TEMPLATE_DEPTH,
  MAX_TEMPLATE_KEYS,
  type Template,
} from '../../src/shared/message-shapes.js'
import { MAX_NESTING_DEPTH } from '../../src/shared/size.js'
import { type SuperjsonForm, toSuperjsonForm } from '../../src/shared/superjson-form.js'
import { packTextBatch } from '../../src/shared/text-shapes.js'
import type { Frame } from '../../src/shared/wire.js'
import { arbitraryEnvelope, envelopeWithData, keyOrder, rawEvent, rawMessage } from '../helpers.js'

type Batch = { t: string; msgs: unknown[]; shapes?: unknown[] }

/** What a peer reads from `msgs` in a `dlvs` frame sent as text through `codec`. */
function throughSocket(msgs: unknown[], codec = shapedTextCodec): unknown[] {
  const text = codec.encode([{ t: 'dlvs', sid: 's', id: 1, msgs, timeoutMs: 1000 } as Frame]) as string
  const [frame] = codec.decode(text) as Batch[]
  expect(frame).not.toBeInstanceOf(UndecodableFrame)
  expect(frame).not.toHaveProperty('shapes')
  return frame?.msgs ?? []
}

/** The frame `msgs` make as text through the codec with templates, parsed back to JSON. */
const wireForm = (msgs: unknown[]) =>
  (JSON.parse(shapedTextCodec.encode([{ t: 'pubs', rid: 1, msgs } as Frame]) as string) as Batch[])[0]

/** An array holding an array … `depth` deep, holding 0. */
function nestedArrays(depth: number): unknown {
  let value: unknown = 0
  for (let level = 0; level < depth; level++) value = [value]
  return value
}

const event = (overrides: Parameters<typeof rawEvent>[0] = {}) => rawMessage(undefined, overrides)
const withData = envelopeWithData

/**
 * `msgs` packed for text as JSON, with how many took the path through their superjson form. With
 * `throughForms`, every message takes it (wrapped in an array, which fits no template): the
 * reference a row written from values must equal.
 */
function packed(msgs: unknown[], throughForms = false): { text: string; forms: number } {
  let forms = 0
  const formOf = (message: unknown) => {
    forms++
    return toSuperjsonForm(throughForms ? (message as unknown[])[0] : message)
  }
  const batch = packTextBatch(throughForms ? msgs.map((message) => [message]) : msgs, formOf)
  return { text: JSON.stringify(batch), forms }
}

/** What `packed` gives for `msgs` both ways, or that both ways throw. */
function bothWays(msgs: unknown[]) {
  let reference: ReturnType<typeof packed>
  try {
    reference = packed(msgs, true)
  } catch {
    expect(() => packed(msgs)).toThrow()
    return undefined
  }
  return { fromValues: packed(msgs), reference }
}

const data = fc.oneof(
  fc.record({
    eventType: fc.string(),
    data: fc.record({ key: fc.string(), code: fc.integer(), at: fc.date({ noInvalidDate: true }) }),
    timestamp: fc.date({ noInvalidDate: true }),
  }),
  fc.record({ '1': fc.jsonValue(), 'a.b': fc.date({ noInvalidDate: true }), '0': fc.double() }),
  fc.record({ list: fc.array(fc.date({ noInvalidDate: true }), { maxLength: 2 }), flag: fc.boolean() }),
  fc.anything({
    withNullPrototype: true,
    withMap: true,
    withSet: true,
    withDate: true,
    withBigInt: true,
  }),
)
const message = arbitraryEnvelope(data, ['RawEvent', 'Nope'])
/** Keystroke-like envelopes, all keys present: most share a shape, some put a Date or −0 elsewhere. */
const keystrokeLike = arbitraryEnvelope(
  fc.record({
    eventType: fc.string(),
    data: fc.record({ key: fc.jsonValue(), code: fc.double() }),
    windowTitle: fc.oneof({ weight: 4, arbitrary: fc.string() }, fc.date()),
    timestamp: fc.oneof({ weight: 4, arbitrary: fc.date() }, fc.string()),
  }),
  ['RawEvent'],
).map(({ correlationId, ...envelope }) => ({ ...envelope, priority: envelope.priority ?? 1 }))

describe('batches whose messages share a shape over text', () => {
  it('arrive as their superjson forms would, keys in the same order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 4, arbitrary: message }, fc.anything()), { maxLength: 20, size: 'max' }),
        (msgs) => {
          let plain: unknown[]
          try {
            plain = throughSocket(msgs, textCodec)
          } catch {
            // What superjson cannot carry unchanged is refused alike with templates.
            expect(() => throughSocket(msgs)).toThrow()
            return
          }
          const received = throughSocket(msgs)
          expect(received).toStrictEqual(plain)
          expect(received.map(keyOrder)).toEqual(plain.map(keyOrder))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('write a message that fits a template from its values, exactly as from its superjson form', () => {
    let fromValues = 0
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 6, arbitrary: keystrokeLike }, message, fc.anything()), {
          maxLength: 20,
          size: 'max',
        }),
        (msgs) => {
          const packings = bothWays(msgs)
          if (packings === undefined) return
          expect(packings.fromValues.text).toBe(packings.reference.text)
          fromValues += msgs.length - packings.fromValues.forms
        },
      ),
      { numRuns: 500 },
    )
    // Not vacuous: many messages were written from their values.
    expect(fromValues).toBeGreaterThan(50)
  })

  it('take the path through the form for whatever a row from values could get wrong', () => {
    const list = ['x']
    const pair = { key: 'a', code: 1 }
    const many = Array.from({ length: 20 }, (_, index) => ({ index }))
    const base = rawEvent()
    class Moment extends Date {}
    const twins: [string, Record<string, unknown>][] = [
      ['the same data again', {}],
      ['the same array twice', { data: { key: list, code: list } }],
      ['an object of the template met again', { data: pair, windowTitle: pair }],
      ['an object met again past the short list', { data: { key: [...many, many[10]], code: 1 } }],
      ['−0', { data: { key: 'a', code: -0 } }],
      ['NaN', { data: { key: 'a', code: Number.NaN } }],
      ['an undefined value', { data: { key: undefined, code: 1 } }],
      ['a string where the template has a Date', { timestamp: base.timestamp.toISOString() }],
      ['a Date where the template has a JSON value', { windowTitle: new Date(0) }],
      ['a Date inside a JSON value', { data: { key: [new Date(0)], code: 1 } }],
      ['a boxed string', { windowTitle: new String('Editor') }],
      ['a Map', { windowTitle: new Map([['a', 1]]) }],
      ['a Date of a subclass', { timestamp: new Moment(0) }],
      ['an invalid Date', { timestamp: new Date(Number.NaN) }],
      ['a null-prototype object', { data: Object.assign(Object.create(null), { key: 'a', code: 1 }) }],
      ['keys in another order', { data: { code: 1, key: 'a' } }],
      ['a key more', { data: { key: 'a', code: 1, more: true } }],
      ['a key less', { data: { key: 'a' } }],
      ['a hole in an array', { data: { key: new Array(2).fill(1, 1), code: 1 } }],
      ['a key superjson refuses', { data: { key: { constructor: 1 }, code: 1 } }],
      ['a value nested deeper than a form may be', { windowTitle: nestedArrays(MAX_NESTING_DEPTH) }],
    ]
    for (const [name, overrides] of twins) {
      const packings = bothWays([withData(base), withData({ ...base, ...overrides })])
      if (packings === undefined) continue
      expect(packings.fromValues.text, name).toBe(packings.reference.text)
      // Only the first message needs its form to make the template, when the second fits it.
      if (name === 'the same data again') expect(packings.fromValues.forms).toBe(1)
      else expect(packings.fromValues.forms, name).toBe(2)
    }
  })

  it('write from its values a message that fits any template made, and what a form holds as it is', () => {
    const keystroke = withData(rawEvent())
    const state = withData({ state: 'focused', score: 1 })
    const alternating = packed([keystroke, state, keystroke, state])
    expect(alternating.forms).toBe(2)
    expect(alternating.text).toBe(packed([keystroke, state, keystroke, state], true).text)
    // A null-prototype object inside a JSON value is JSON as it is, to superjson too.
    const withBareObject = withData({
      ...rawEvent(),
      windowTitle: Object.assign(Object.create(null), { a: 1 }),
    })
    const bare = packed([keystroke, withBareObject])
    expect(bare.forms).toBe(1)
    expect(bare.text).toBe(packed([keystroke, withBareObject], true).text)
  })

  it('keep their rows right when a getter packs another batch in the middle of the walk', () => {
    const base = rawEvent()
    const pair = { key: 'a', code: 1 }
    const met = {
      ...base,
      data: pair,
      // Met again after a walk of its own has come and gone: the same object, noted as such.
      get windowTitle() {
        packed([withData(base), withData(base)])
        return pair
      },
    }
    const packings = bothWays([withData(base), withData(met)])
    expect(packings?.fromValues.text).toBe(packings?.reference.text)
    expect(packings?.reference.text).toContain('referentialEqualities')
  })

  it('send the keys once, Dates as ISO strings where the template marks them', () => {
    const msgs = Array.from({ length: 64 }, (_, n) =>
      event({ eventType: `e${n}`, data: { key: 'a', code: n } }),
    )
    const frame = wireForm(msgs)
    expect(frame?.shapes).toEqual([
      [
        'id',
        0,
        'timestamp',
        1,
        'source',
        0,
        'payload',
        [
          'type',
          0,
          'data',
          ['eventType', 0, 'data', ['key', 0, 'code', 0], 'windowTitle', 0, 'timestamp', 1],
        ],
        'priority',
        0,
      ],
    ])
    const [first] = msgs
    expect(frame?.msgs[0]).toEqual([
      0,
      first?.id,
      first?.timestamp.toISOString(),
      'data-capture',
      'RawEvent',
      'e0',
      'a',
      0,
      'Editor',
      first?.payload.data.timestamp.toISOString(),
      first?.priority,
    ])
    const length = (codec: typeof textCodec) =>
      (codec.encode([{ t: 'pubs', rid: 1, msgs } as Frame]) as string).length
    expect(length(shapedTextCodec)).toBeLessThan(length(textCodec) * 0.6)
    const received = throughSocket(msgs) as typeof msgs
    expect(received).toStrictEqual(msgs)
    expect(received[0]?.payload.data.timestamp).toBeInstanceOf(Date)
  })

  it(`template at most ${MAX_SHAPES} shapes a batch and ${MAX_TEMPLATE_DEPTH} levels, sending the rest as forms or values`, () => {
    const shapes = Array.from({ length: MAX_SHAPES + 2 }, (_, n) => withData({ [`only${n}`]: n }))
    const frame = wireForm(shapes)
    expect(frame?.shapes).toHaveLength(MAX_SHAPES)
    expect(frame?.msgs.slice(MAX_SHAPES).map((row) => (row as unknown[])[0])).toEqual([-1, -1])
    expect(throughSocket(shapes)).toStrictEqual(throughSocket(shapes, textCodec))
    let deep: Record<string, unknown> = { bottom: true }
    for (let level = 0; level < MAX_TEMPLATE_DEPTH + 4; level++) deep = { level, inner: deep }
    const deepBatch = [withData(deep), withData(deep)]
    const levels = (template: unknown): number =>
      Array.isArray(template) ? 1 + Math.max(0, ...template.map(levels)) : 0
    expect(levels(wireForm(deepBatch)?.shapes?.[0])).toBe(MAX_TEMPLATE_DEPTH)
    expect(throughSocket(deepBatch)).toStrictEqual(throughSocket(deepBatch, textCodec))
  })

  it('template no form whose JSON a row could not give back exactly, whatever form it is given', () => {
    /** The templates of a batch of two messages whose forms are `form` (numbers fit no template). */
    const shapesOf = (form: SuperjsonForm) => packTextBatch([1, 2], () => form).shapes
    const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]))
    expect(shapesOf({ json: keys(MAX_TEMPLATE_KEYS) })).toHaveLength(1)
    expect(shapesOf({ json: keys(MAX_TEMPLATE_KEYS + 1) })).toBeUndefined()
    expect(shapesOf({ json: JSON.parse('{"a": 1, "__proto__": 2}') })).toBeUndefined()
    expect(shapesOf({ json: { a: JSON.parse('{"__proto__": 2}') } })).toBeUndefined()
    expect(shapesOf({ json: { at: 5 }, meta: { values: { at: ['Date'] }, v: 1 } })).toBeUndefined()
    // A key Object.prototype lends every object: JSON.stringify would leave it out.
    const form = { json: { a: 1 } }
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true })
    let inheriting: Template[] | undefined
    try {
      inheriting = shapesOf(form)
    } finally {
      delete (Object.prototype as { polluted?: unknown }).polluted
    }
    expect(inheriting).toBeUndefined()
    // A form whose JSON is no object makes no template, and takes no place of one.
    const forms = [{ json: ['a'] }, { json: { a: 1 } }, { json: { a: 2 } }]
    expect(packTextBatch([0, 1, 2], (index) => forms[index as number] as SuperjsonForm).shapes).toEqual([
      ['a', 0],
    ])
  })

  it('send as superjson forms what a row could not stand for exactly', () => {
    const shared = { same: 1 }
    const odd = [
      withData(new Map([['a', 1]])),
      withData({ missing: undefined }),
      withData({ first: shared, second: shared }),
      withData({ list: [new Date(0)] }),
      withData({ 'a.b': new Date(0) }),
    ]
    const batch = [event(), ...odd]
    const frame = wireForm(batch)
    expect(frame?.shapes).toHaveLength(1)
    expect(frame?.msgs.slice(1).map((row) => (row as unknown[])[0])).toEqual(odd.map(() => -1))
    const received = throughSocket(batch)
    expect(received).toStrictEqual(throughSocket(batch, textCodec))
    const [, , , again] = received as { payload: { data: { first: unknown; second: unknown } } }[]
    expect(again?.payload.data.first).toBe(again?.payload.data.second)
    // A lone message, or a batch with no shape at all, is sent as forms only.
    expect(wireForm([event()])).not.toHaveProperty('shapes')
    expect(wireForm(odd)).not.toHaveProperty('shapes')
  })

  it('refuse a malformed template, row or Date with the reason', () => {
    const template = ['at', 1, 'n', 0]
    const cases: [unknown, unknown[], RegExp][] = [
      [[template], [[0, 12, 1]], /msgs\.0: a Date is written as an ISO string/],
      [[['at', 2]], [[0, 'x']], /shapes: a template is an array of key, child pairs/],
      [[['__proto__', 1]], [[0, 'x']], /a template key cannot be '__proto__'/],
      [[template], [[0, '2026-01-01T00:00:00.000Z']], /msgs\.0: a row is \[shape, …values\]/],
      [[template], [[-1, { nope: true }]], /msgs\.0 must be a superjson value/],
      [null, [[0, 'x', 1]], /shapes is a list of 1 to 8 templates/],
    ]
    for (const [shapes, msgs, reason] of cases) {
      const [decoded] = textCodec.decode(JSON.stringify([{ t: 'pubs', rid: 1, msgs, shapes }]))
      expect(decoded).toBeInstanceOf(UndecodableFrame)
      expect((decoded as UndecodableFrame).reason).toMatch(/^invalid frame 'pubs': /)
      expect((decoded as UndecodableFrame).reason).toMatch(reason)
    }
    const [fine] = textCodec.decode(
      JSON.stringify([{ t: 'pubs', rid: 1, msgs: [[0, '2026-01-01T00:00:00.000Z', 3]], shapes: [template] }]),
    ) as Batch[]
    expect(fine?.msgs).toEqual([{ at: new Date('2026-01-01T00:00:00.000Z'), n: 3 }])
  })

  it('never throw, whatever templates and rows a peer sends', () => {
    const template = fc.array(fc.oneof(fc.string(), fc.constantFrom(0, 1), fc.jsonValue()), { maxLength: 6 })
    fc.assert(
      fc.property(
        fc.oneof(fc.array(template, { maxLength: 3 }), fc.jsonValue()),
        fc.array(fc.oneof(fc.array(fc.jsonValue(), { maxLength: 7 }), fc.jsonValue()), { maxLength: 4 }),
        (shapes, msgs) => {
          const [decoded] = textCodec.decode(JSON.stringify([{ t: 'dlvs', sid: 's', id: 1, msgs, shapes }]))
          if (!(decoded instanceof UndecodableFrame)) expect(decoded).not.toHaveProperty('shapes')
        },
      ),
      { numRuns: 1000 },
    )
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })
})
