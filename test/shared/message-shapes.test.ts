import { serialize } from 'node:v8'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cloneCodec, shapedCloneCodec, UndecodableFrame } from '../../src/shared/codec.js'
import {
  MAX_SHAPES,
  MAX_TEMPLATE_DEPTH,
  MAX_TEMPLATE_KEYS,
  packBatch,
  unpackBatch,
} from '../../src/shared/message-shapes.js'
import { packMessage } from '../../src/shared/message-tuple.js'
import type { Frame } from '../../src/shared/wire.js'
import { arbitraryEnvelope, envelopeWithData, keyOrder, rawEvent, rawMessage } from '../helpers.js'

/** What the receiving side of a port reads from `msgs` in a `dlvs` frame sent through `codec`. */
function throughPort(msgs: unknown[], codec = shapedCloneCodec): unknown[] {
  const unit = structuredClone(codec.encode([{ t: 'dlvs', sid: 's', id: 1, msgs, timeoutMs: 1000 } as Frame]))
  const [frame] = codec.decode(unit) as { msgs: unknown[]; shapes?: unknown }[]
  expect(frame).not.toBeInstanceOf(UndecodableFrame)
  expect(frame).not.toHaveProperty('shapes')
  return frame?.msgs ?? []
}

const event = (overrides: Parameters<typeof rawEvent>[0] = {}) => rawMessage(undefined, overrides)
const withData = envelopeWithData

/** Data of a few recurring shapes (so batches share them), and anything else a message may hold. */
const data = fc.oneof(
  fc.record({
    eventType: fc.string(),
    data: fc.record({
      key: fc.string(),
      code: fc.integer(),
      modifiers: fc.array(fc.string(), { maxLength: 3 }),
    }),
    windowTitle: fc.string(),
    timestamp: fc.date(),
  }),
  fc.record({ '1': fc.anything(), a: fc.option(fc.anything(), { nil: undefined }), '0': fc.double() }),
  fc.record({ nested: fc.record({ deeper: fc.record({ value: fc.anything() }) }), flag: fc.boolean() }),
  fc.anything({
    withNullPrototype: true,
    withMap: true,
    withSet: true,
    withDate: true,
    withTypedArray: true,
    withSparseArray: true,
    withBigInt: true,
    withBoxedValues: true,
    withObjectString: true,
  }),
)
const envelope = arbitraryEnvelope(data, ['RawEvent', 'StateChange', 'Nope'])
const message = fc.oneof(
  { weight: 4, arbitrary: envelope },
  envelope.map((m) => ({ ...m, extra: 1 })),
  fc.anything(),
)

describe('batches whose messages share a shape over ports', () => {
  it('arrive as a structured clone of what was sent, keys in the same order', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 30, size: 'max' }), (msgs) => {
        const received = throughPort(msgs)
        const cloned = structuredClone(msgs)
        // Strictly: a key missing (an envelope's priority, say) is not a key holding undefined.
        expect(received).toStrictEqual(cloned)
        const dataOf = (m: unknown) => (m as { payload?: { data?: unknown } } | null)?.payload?.data
        expect(received.map((m) => keyOrder(dataOf(m)))).toEqual(cloned.map((m) => keyOrder(dataOf(m))))
      }),
      { numRuns: 500 },
    )
  })

  it('send the keys of a shape once, each message as a row of its values', () => {
    const msgs = Array.from({ length: 64 }, (_, n) =>
      event({ eventType: `e${n}`, data: { key: 'a', code: n } }),
    )
    const { msgs: rows, shapes } = packBatch(msgs)
    expect(shapes).toEqual([
      ['eventType', 0, 'data', ['key', 0, 'code', 0], 'windowTitle', 0, 'timestamp', 0],
    ])
    const [first] = msgs
    const { eventType, windowTitle, timestamp } = first?.payload.data ?? rawEvent()
    expect(rows[0]).toEqual([
      0,
      first?.id,
      first?.timestamp,
      'data-capture',
      'RawEvent',
      first?.priority,
      undefined,
      eventType,
      'a',
      0,
      windowTitle,
      timestamp,
    ])
    // Fewer bytes to write and read than tuples, which hold every key of every message.
    const bytes = (codec: typeof cloneCodec) =>
      serialize(codec.encode([{ t: 'pubs', rid: 1, msgs } as Frame])).length
    expect(bytes(shapedCloneCodec)).toBeLessThan(bytes(cloneCodec) * 0.75)
    expect(throughPort(msgs)).toEqual(msgs)
  })

  it('send as tuples what has no shape, and a lone message', () => {
    const withArray = withData([1, 2])
    // One message: a tuple, as over a codec without templates.
    expect(packBatch([withArray]).shapes).toBeUndefined()
    const lone = event()
    expect(shapedCloneCodec.encode([{ t: 'pubs', rid: 1, msgs: [lone] } as Frame])).toEqual([
      { t: 'pubs', rid: 1, msgs: [packMessage(lone)] },
    ])
    // Data that is no plain object, or that could not be rebuilt as a plain object's keys.
    class Point {
      x = 1
    }
    const noShape = [
      withArray,
      withData(new Point()),
      withData(Object.assign(Object.create(null), { key: 'a' })),
      withData(JSON.parse('{"__proto__": {"polluted": true}, "key": "a"}')),
      withData({ key: 'a', inner: JSON.parse('{"__proto__": {"polluted": true}}') }),
      withData(Object.fromEntries(Array.from({ length: MAX_TEMPLATE_KEYS + 1 }, (_, i) => [`k${i}`, i]))),
      withData('text'),
      withData(null),
      // Short of a key, or with an envelope's keys on an array: a tuple or a row would change them.
      { ...event(), payload: { type: 'RawEvent' } },
      { ...event(), payload: Object.assign([], { type: 'RawEvent', data: rawEvent() }) },
      Object.assign([], event()),
    ]
    const packed = packBatch(noShape)
    expect(packed.shapes).toBeUndefined()
    expect(packed.msgs).toEqual(noShape.map(packMessage))
    expect(throughPort(noShape)).toStrictEqual(structuredClone(noShape))
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    // Mixed with shaped ones, each travels as a row of its own tuple.
    const mixed = packBatch([event(), withArray, event()])
    expect(mixed.shapes).toHaveLength(1)
    expect(mixed.msgs[1]).toEqual([-1, packMessage(withArray)])
  })

  it('template no data that inherits a key from a polluted Object.prototype, which a clone leaves out', () => {
    // Envelopes without a prototype still pack under the pollution; their plain data inherits the key.
    const withoutPrototype = ({ payload, ...envelope }: ReturnType<typeof event>) =>
      Object.assign(Object.create(null), envelope, { payload: Object.assign(Object.create(null), payload) })
    const msgs = [withoutPrototype(event()), withoutPrototype(event())]
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true })
    let packed: ReturnType<typeof packBatch>
    let tuples: unknown[]
    try {
      packed = packBatch(msgs)
      tuples = msgs.map(packMessage)
    } finally {
      delete (Object.prototype as { polluted?: unknown }).polluted
    }
    expect(packed.shapes).toBeUndefined()
    expect(packed.msgs).toEqual(tuples)
    expect(tuples.every(Array.isArray)).toBe(true)
  })

  it('write each shape once, however its messages alternate with another', () => {
    const keystroke = event()
    const other = withData({ state: 'focused', score: 1 })
    const msgs = [keystroke, other, keystroke, other]
    expect(packBatch(msgs).shapes).toHaveLength(2)
    expect(throughPort(msgs)).toEqual(msgs)
  })

  it(`template at most ${MAX_SHAPES} shapes a batch and ${MAX_TEMPLATE_DEPTH} levels, sending the rest as values`, () => {
    const shapes = Array.from({ length: MAX_SHAPES + 2 }, (_, n) => withData({ [`only${n}`]: n }))
    const packed = packBatch(shapes)
    expect(packed.shapes).toHaveLength(MAX_SHAPES)
    expect(packed.msgs.slice(MAX_SHAPES)).toEqual(shapes.slice(MAX_SHAPES).map((m) => [-1, packMessage(m)]))
    expect(throughPort(shapes)).toEqual(shapes)
    let deep: Record<string, unknown> = { bottom: true }
    for (let level = 0; level < MAX_TEMPLATE_DEPTH + 4; level++) deep = { level, inner: deep }
    const deepBatch = [withData(deep), withData(deep)]
    const [template] = packBatch(deepBatch).shapes ?? []
    let depth = 0
    for (let t = template; Array.isArray(t); t = (t as unknown[])[3] as unknown[]) depth++
    expect(depth).toBe(MAX_TEMPLATE_DEPTH)
    expect(throughPort(deepBatch)).toEqual(deepBatch)
  })

  it('refuse malformed templates and rows with the reason, building nothing from them', () => {
    const row = [0, 'id', new Date(0), 'data-capture', 'RawEvent', 1, undefined, 'v']
    const cases: [unknown, unknown[], RegExp][] = [
      [undefined, [row], /shapes is a list of 1 to 8 templates/],
      [[], [row], /shapes is a list of 1 to 8 templates/],
      [Array.from({ length: MAX_SHAPES + 1 }, () => ['k', 0]), [row], /1 to 8 templates/],
      [[{ k: 0 }], [row], /a template is an array of key, child pairs/],
      [[['k']], [row], /a template is an array of key, child pairs/],
      [[[1, 0]], [row], /template keys are strings/],
      [[['__proto__', 0]], [row], /a template key cannot be '__proto__'/],
      [[['k', 'child']], [row], /a template is an array of key, child pairs/],
      [
        [Array.from({ length: MAX_TEMPLATE_KEYS + 1 }, (_, i) => [`k${i}`, 0]).flat()],
        [row],
        /256 keys at most/,
      ],
      [[['k', 0]], ['row'], /msgs\.0: a row is an array/],
      [[['k', 0]], [[1, ...row.slice(1)]], /msgs\.0: a row is \[shape/],
      [[['k', 0]], [[...row, 'one too many']], /msgs\.0: a row is \[shape/],
      [[['k', 0]], [[0.5, ...row.slice(1)]], /msgs\.0: a row is \[shape/],
      [[['k', 0]], [['0', ...row.slice(1)]], /msgs\.0: a row is \[shape/],
      [[['k', 0]], [[-1, 'message', 'more']], /msgs\.0: a row is \[shape/],
    ]
    let nested: unknown[] = ['k', 0]
    for (let level = 0; level < MAX_TEMPLATE_DEPTH; level++) nested = ['k', nested]
    cases.push([[nested], [row], /templates nest 16 levels at most/])
    for (const [shapes, msgs, reason] of cases) {
      expect(unpackBatch([...msgs], shapes)).toMatch(reason)
      const [decoded] = shapedCloneCodec.decode([{ t: 'pubs', rid: 1, msgs: [...msgs], shapes }])
      expect(decoded).toBeInstanceOf(UndecodableFrame)
      expect((decoded as UndecodableFrame).reason).toMatch(/^invalid frame 'pubs': /)
      expect((decoded as UndecodableFrame).reason).toMatch(reason)
    }
    expect(unpackBatch([row], [['k', 0]])).toBeUndefined()
  })

  it('never throw, whatever templates and rows a peer sends', () => {
    const template = fc.array(fc.oneof(fc.string(), fc.constant(0), fc.anything()), { maxLength: 6 })
    fc.assert(
      fc.property(
        fc.oneof(fc.array(template, { maxLength: 3 }), fc.anything()),
        fc.array(fc.oneof(fc.array(fc.anything(), { maxLength: 9 }), fc.anything()), { maxLength: 4 }),
        (shapes, msgs) => {
          const [decoded] = cloneCodec.decode([{ t: 'dlvs', sid: 's', id: 1, msgs, shapes, timeoutMs: 1 }])
          if (!(decoded instanceof UndecodableFrame)) expect(decoded).not.toHaveProperty('shapes')
        },
      ),
      { numRuns: 1000 },
    )
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })
})
