import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { builtinCatalog } from '../../src/shared/catalog.js'
import { cloneCodec } from '../../src/shared/codec.js'
import { packMessage } from '../../src/shared/message-tuple.js'
import { messageValidator } from '../../src/shared/message-validator.js'
import type { Frame } from '../../src/shared/wire.js'
import { arbitraryEnvelope, rawEvent } from '../helpers.js'

/** What the receiving side of a port reads from `msgs` in a `pubs` frame sent through the codec. */
function throughPort(msgs: unknown[]): unknown[] {
  const unit = structuredClone(cloneCodec.encode([{ t: 'pubs', rid: 1, msgs } as Frame]))
  const [frame] = cloneCodec.decode(unit) as { msgs: unknown[] }[]
  return frame?.msgs ?? []
}

const envelope = arbitraryEnvelope(fc.anything(), ['RawEvent', 'ModuleReady', 'Nope'])
/** Envelopes with keys of their own, payloads with extra keys, and anything else a peer may send. */
const oddMessage = fc.oneof(
  envelope.map((m) => ({ ...m, extra: 1 })),
  envelope.map((m) => ({ ...m, payload: { ...m.payload, more: true } })),
  envelope.map((m) => ({ ...m, payload: [m.payload.type, m.payload.data] })),
  // An envelope short of one key, with a correlation id or not: as many keys as a whole one may have.
  fc
    .tuple(
      envelope,
      fc.constantFrom('id', 'timestamp', 'source', 'payload', 'priority'),
      fc.option(fc.uuid(), { nil: undefined }),
    )
    .map(([m, missing, correlationId]) => {
      const { [missing]: _left, ...rest } = m as Record<string, unknown>
      return correlationId === undefined ? rest : { ...rest, correlationId }
    }),
  fc.array(fc.anything(), { maxLength: 8 }),
  fc.anything(),
)

describe('messages packed as tuples over ports', () => {
  it('arrive as a structured clone of what was sent, whatever was sent', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(envelope, oddMessage), { minLength: 1, maxLength: 20, size: 'max' }),
        (msgs) => {
          // Strictly: a key missing is not a key holding undefined.
          expect(throughPort(msgs)).toStrictEqual(structuredClone(msgs))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('pack plain envelopes and leave everything else as it is', () => {
    const plain = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    const reply = BusMessage.replyTo(plain, ModuleId.Storage, MessagePayload.RawEvent(rawEvent()))
    expect(packMessage(plain)).toEqual([
      plain.id,
      plain.timestamp,
      plain.source,
      'RawEvent',
      plain.payload.data,
      plain.priority,
    ])
    expect(packMessage(reply)).toHaveLength(7)
    const extra = { ...plain, note: 'kept' }
    expect(packMessage(extra)).toBe(extra)
    expect(packMessage(['a', 'b'])).toEqual([['a', 'b']])
    expect(packMessage(null)).toBeNull()
    expect(throughPort([extra])).toEqual([extra])
  })

  it('refuses an array that is no tuple as a message, naming what a message is', () => {
    const validator = messageValidator(builtinCatalog, 1_000_000)
    const [received] = throughPort([['not', 'a', 'message']])
    expect(received).toEqual(['not', 'a', 'message'])
    expect(() => validator.validate(received as never)).toThrow(/a message is an object/)
    // A hand-made tuple of the wrong length, sent without the codec, is refused the same way.
    const [odd] = cloneCodec.decode([{ t: 'pubs', rid: 1, msgs: [[1, 2, 3]] }]) as { msgs: unknown[] }[]
    expect(() => validator.validate(odd?.msgs[0] as never)).toThrow(/a message is an object/)
  })
})
