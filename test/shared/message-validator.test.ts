import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { BusMessage, ModuleId } from '../../src/main/bus/index.js'
import { builtinCatalog, type MessageType } from '../../src/shared/catalog.js'
import { isEventBusError } from '../../src/shared/errors.js'
import type { Envelope } from '../../src/shared/message.js'
import { messageSchema, messageValidator } from '../../src/shared/message-validator.js'
import { encodedSizeOver } from '../../src/shared/size.js'
import { anyValue, validData } from '../helpers.js'

const LIMIT = 1 << 30
const types = Object.keys(builtinCatalog) as MessageType[]
const validator = messageValidator(builtinCatalog, LIMIT)

/** A valid message of some type with one place changed: a key set to any value, or removed. */
const changedMessage = fc
  .record({
    type: fc.constantFrom(...types),
    place: fc.constantFrom('envelope', 'payload', 'data'),
    key: fc.constantFrom('id', 'timestamp', 'source', 'priority', 'correlationId', 'type', 'data', 'extra'),
    dataKey: fc.nat(),
    value: anyValue,
    remove: fc.boolean(),
  })
  .map(({ type, place, key, dataKey, value, remove }) => {
    const original: Envelope = BusMessage.create(ModuleId.DataCapture, {
      type,
      data: validData[type](),
    } as never)
    const data: unknown = original.payload.data
    const message: Record<string, unknown> = { ...original }
    const payload: Record<string, unknown> = { ...original.payload }
    message.payload = payload
    let target: Record<string, unknown> = message
    let name: string = key
    if (place === 'payload') target = payload
    if (place === 'data' && typeof data === 'object' && data !== null && !(data instanceof Date)) {
      target = { ...data }
      payload.data = target
      const keys = [...Object.keys(data), 'extra']
      name = keys[dataKey % keys.length] as string
    }
    if (remove) delete target[name]
    else target[name] = value
    return message
  })

function accepts(message: unknown): boolean {
  try {
    validator.validate(message as never)
    return true
  } catch (error) {
    if (isEventBusError(error, 'MessageRejected')) return false
    throw error
  }
}

function encodable(message: unknown): boolean {
  try {
    encodedSizeOver(message, LIMIT)
    return true
  } catch {
    return false
  }
}

describe('message validation', () => {
  it("accepts exactly what zod's interpreted parse accepts, among what can travel", () => {
    fc.assert(
      fc.property(changedMessage, (message) => {
        const type = (message.payload as { type?: unknown }).type
        const schema =
          // Its own keys: a type named 'valueOf' is no type of the catalog's.
          typeof type === 'string' && Object.hasOwn(builtinCatalog, type)
            ? builtinCatalog[type as MessageType]
            : undefined
        const expected =
          schema !== undefined &&
          encodable(message) &&
          messageSchema(type as string, schema).safeParse(message).success
        expect(accepts(message)).toBe(expected)
      }),
      { numRuns: 3000 },
    )
  })

  it('checks each type against its own name when types share one payload schema, in every validator', () => {
    const shared = z.object({ n: z.number() })
    const catalog = { First: shared, Second: shared }
    const message = (type: string) =>
      BusMessage.create(ModuleId.DataCapture, { type, data: { n: 1 } } as never) as Envelope
    for (const each of [messageValidator(catalog, LIMIT), messageValidator(catalog, LIMIT)]) {
      expect(() => each.validate(message('First'))).not.toThrow()
      expect(() => each.validate(message('Second'))).not.toThrow()
      expect(() => each.validate(message('Third'))).toThrow(/unknown message type 'Third'/)
    }
    const bounded = messageValidator({ First: shared }, 10)
    expect(() => bounded.validate(message('First'))).toThrow(/over maxMessageBytes \(10\)/)
  })

  it('says which types it knows, and what is wrong with something no message', () => {
    expect(['RawEvent', 'Nope', 'toString'].map((type) => validator.knows(type))).toEqual([
      true,
      false,
      false,
    ])
    const refusals: [unknown, RegExp][] = [
      [null, /^a message is an object \{ id, timestamp, source, payload, priority \}$/],
      [[], /^a message is an object/],
      ['RawEvent', /^a message is an object/],
      [{ payload: { data: {} } }, /^payload\.type is missing$/],
      [{ payload: { type: 7 } }, /^payload\.type must be a string naming a message type, got number$/],
      [{ payload: { type: null } }, /^payload\.type must be a string naming a message type, got null$/],
      [{}, /^payload\.type is missing$/],
    ]
    for (const [message, reason] of refusals) {
      expect(() => validator.validate(message as never), JSON.stringify(message)).toThrow(
        expect.objectContaining({ kind: 'MessageRejected', reason: expect.stringMatching(reason) }),
      )
    }
  })
})

describe('a message that throws when read', () => {
  const raw = () => BusMessage.create(ModuleId.DataCapture, { type: 'RawEvent', data: validData.RawEvent() })

  it.each([
    [
      'a getter deep in its data',
      () => {
        const message = raw()
        const data = { ...message.payload.data }
        Object.defineProperty(data, 'windowTitle', {
          enumerable: true,
          get() {
            throw new Error('getter')
          },
        })
        return { ...message, payload: { ...message.payload, data } }
      },
      /the message could not be read: Error: getter/,
    ],
    [
      "a Proxy's trap behind its payload",
      () => {
        const message = raw()
        const payload = new Proxy(message.payload, {
          ownKeys() {
            throw new Error('trap')
          },
        })
        return { ...message, payload }
      },
      /the message could not be read: Error: trap/,
    ],
  ])('%s is refused as unreadable, not taken', (_, build, reason) => {
    let thrown: unknown
    try {
      validator.validate(build() as never)
    } catch (error) {
      thrown = error
    }
    expect(isEventBusError(thrown, 'MessageRejected')).toBe(true)
    expect((thrown as Error).message).toMatch(reason)
  })
})
