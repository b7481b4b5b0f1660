/**
 * The codecs' edges: a unit past the frames a codec reads is refused whole, as is one that is no
 * list of frames (a batch whose messages are no list, alone), templates are written only by the
 * codecs asked to write them, encoding leaves the frames it was given as they were, and only a
 * message that cannot change is remembered for the checkpoint.
 */
import { describe, expect, it } from 'vitest'
import { codecFor, UndecodableFrame } from '../../src/shared/codec.js'
import type { PortCarrier } from '../../src/shared/port.js'
import type { Frame } from '../../src/shared/wire.js'
import { rawMessage } from '../helpers.js'

const carriers: PortCarrier[] = ['clone', 'text']

describe('a codec', () => {
  it.each(carriers)('over %s, refuses a unit of more than 65,536 frames whole', (carrier) => {
    const codec = codecFor(carrier)
    const frames = (count: number) => Array.from({ length: count }, () => ({ t: 'ping' }) as const)
    const encoded = (count: number) => (carrier === 'text' ? JSON.stringify(frames(count)) : frames(count))
    expect(codec.decode(encoded(65_536))).toHaveLength(65_536)
    const refused = codec.decode(encoded(65_537))
    expect(refused).toEqual([new UndecodableFrame('a batch holds at most 65536 frames (got 65537)')])
  })

  it('refuses a unit that is no list of frames, or a batch whose messages are no list, saying which', () => {
    for (const shapes of [false, true]) {
      expect(codecFor('clone', shapes).decode({ t: 'ping' })).toEqual([
        new UndecodableFrame('a unit must be an array of frames'),
      ])
      const text = codecFor('text', shapes)
      expect(text.decode(42)).toEqual([new UndecodableFrame('a text unit must be valid UTF-8 JSON text')])
      expect(text.decode('{"t":"ping"}')).toEqual([
        new UndecodableFrame('a unit must be a JSON array of frames'),
      ])
      expect(text.decode('[{"t":"pubs","rid":1,"msgs":{"json":1}}]')).toEqual([
        new UndecodableFrame('msgs must be an array of superjson values'),
      ])
    }
  })

  it.each(carriers)('over %s, writes templates only when asked to', (carrier) => {
    const frames = [{ t: 'pubs', rid: 1, msgs: [rawMessage(), rawMessage()] } as Frame]
    const withTemplates = (shapes: boolean) => {
      const unit = codecFor(carrier, shapes).encode(frames)
      const [frame] = (carrier === 'text' ? JSON.parse(unit as string) : unit) as { shapes?: unknown }[]
      return frame?.shapes !== undefined
    }
    expect([withTemplates(false), withTemplates(true)]).toEqual([false, true])
  })

  it.each([false, true])('over text, leaves the frames it encodes as they were (templates: %s)', (shapes) => {
    const codec = codecFor('text', shapes)
    const [first, second] = [rawMessage(), rawMessage()]
    const frames: Frame[] = [
      { t: 'dlv', sid: 's', id: 1, msg: first, timeoutMs: 100 },
      { t: 'pubs', rid: 1, msgs: [first, second] },
    ]
    const copies = structuredClone(frames)
    codec.encode(frames)
    // A unit that fails to send is encoded again frame by frame: from the same frames.
    expect(frames).toEqual(copies)
    expect(codec.decode(codec.encode(frames))).toEqual(copies)
  })

  it('over text, refuses a frame whose rich field is not in superjson form, saying which', () => {
    const codec = codecFor('text')
    const unit = JSON.stringify([
      { t: 'res', rid: 1, ok: 5 },
      { t: 'res', rid: 2, ok: { json: 5 } },
      { t: 'dlv', sid: 's', id: 1, msg: 'hello', timeoutMs: 100 },
    ])
    expect(codec.decode(unit)).toEqual([
      new UndecodableFrame('ok must be a superjson value { json, meta? }'),
      { t: 'res', rid: 2, ok: 5 },
      new UndecodableFrame('msg must be a superjson value { json, meta? }'),
    ])
  })

  it('over text, encodes a message that can still change afresh each time, even within a checkpoint', () => {
    const codec = codecFor('text')
    const message = { ...rawMessage() } // not frozen, as a peer's raw message may be
    const delivered = () =>
      codec.decode(codec.encode([{ t: 'dlv', sid: 's', id: 1, msg: message, timeoutMs: 100 }]))
    const [before] = delivered() as [{ msg: { source: string } }]
    ;(message as { source: string }).source = 'storage'
    const [after] = delivered() as [{ msg: { source: string } }]
    expect([before.msg.source, after.msg.source]).toEqual(['data-capture', 'storage'])
  })
})
