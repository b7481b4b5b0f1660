/**
 * Frame batches on each carrier. Over ports a batch is an array of frames, passed by structured
 * clone as is. Over text (WebSocket) it is a JSON array whose rich fields (see RICH_FIELDS) are
 * superjson-encoded, so Date, Map, Set and BigInt survive; a message is serialized once however
 * many endpoints it goes to.
 */
import superjson from 'superjson'
import type { PortCarrier } from './port.js'
import { type Frame, RICH_FIELDS } from './wire.js'

/** An inbound frame that could not be decoded; it is answered with an error frame. */
export class UndecodableFrame {
  constructor(readonly reason: string) {}
}

export interface Codec {
  encode(frames: readonly Frame[]): unknown
  /**
   * Splits one inbound unit into frame candidates (validated afterwards). A unit that is not a
   * batch at all yields a single UndecodableFrame.
   */
  decode(unit: unknown): unknown[]
}

const MAX_FRAMES_PER_BATCH = 65_536

function tooMany(count: number): UndecodableFrame {
  return new UndecodableFrame(`a batch holds at most ${MAX_FRAMES_PER_BATCH} frames (got ${count})`)
}

export const cloneCodec: Codec = {
  encode: (frames) => frames,
  decode(unit) {
    if (!Array.isArray(unit)) return [new UndecodableFrame('a unit must be an array of frames')]
    if (unit.length > MAX_FRAMES_PER_BATCH) return [tooMany(unit.length)]
    return unit
  },
}

/** JSON text of each message's superjson form, computed once per message object. */
const serializedMessages = new WeakMap<object, string>()

function serializedMessage(message: object): string {
  let text = serializedMessages.get(message)
  if (text === undefined) {
    text = JSON.stringify(superjson.serialize(message))
    if (Object.isFrozen(message)) serializedMessages.set(message, text)
  }
  return text
}

function encodeTextFrame(frame: Frame): string {
  let messageText: string | undefined
  let rest: Record<string, unknown> | undefined
  for (const field of RICH_FIELDS) {
    if (!(field in frame)) continue
    rest ??= { ...frame }
    const value = rest[field]
    if (field === 'msg' && typeof value === 'object' && value !== null) {
      messageText = serializedMessage(value)
      delete rest.msg
    } else {
      rest[field] = superjson.serialize(value)
    }
  }
  const text = JSON.stringify(rest ?? frame)
  return messageText === undefined ? text : `${text.slice(0, -1)},"msg":${messageText}}`
}

function isSuperjsonResult(
  value: unknown,
): value is { json: Parameters<typeof superjson.deserialize>[0]['json'] } {
  return typeof value === 'object' && value !== null && 'json' in value
}

function decodeTextFrame(candidate: unknown): unknown {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return candidate
  const frame = candidate as Record<string, unknown>
  for (const field of RICH_FIELDS) {
    if (!Object.hasOwn(frame, field)) continue
    const value = frame[field]
    if (!isSuperjsonResult(value)) {
      return new UndecodableFrame(`${field} must be a superjson value { json, meta? }`)
    }
    try {
      frame[field] = superjson.deserialize(value)
    } catch (error) {
      return new UndecodableFrame(`${field} is not valid superjson: ${(error as Error).message}`)
    }
  }
  return frame
}

export const textCodec: Codec = {
  encode: (frames) => `[${frames.map(encodeTextFrame).join(',')}]`,
  decode(unit) {
    if (typeof unit !== 'string') return [new UndecodableFrame('a text unit must be valid UTF-8 JSON text')]
    let parsed: unknown
    try {
      parsed = JSON.parse(unit)
    } catch (error) {
      return [new UndecodableFrame(`not JSON: ${(error as Error).message}`)]
    }
    if (!Array.isArray(parsed)) return [new UndecodableFrame('a unit must be a JSON array of frames')]
    if (parsed.length > MAX_FRAMES_PER_BATCH) return [tooMany(parsed.length)]
    return parsed.map(decodeTextFrame)
  },
}

export function codecFor(carrier: PortCarrier): Codec {
  return carrier === 'text' ? textCodec : cloneCodec
}
