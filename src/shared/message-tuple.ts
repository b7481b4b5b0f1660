/**
 * Messages in batched frames over structured-clone ports travel as tuples
 * `[id, timestamp, source, type, data, priority, correlationId?]` instead of envelope objects.
 * A structured clone writes and reads every property name of every object; the envelope and its
 * payload hold seven names around a small event, so a tuple makes each copy ~20 % cheaper to send
 * and to receive, and the hub copies every message twice. The message the receiver rebuilds has
 * the same fields and values as a cloned one.
 *
 * Only an envelope whose own keys are exactly the envelope's is packed; anything else (a message
 * with extra keys, a non-object) travels as is, an array wrapped in a 1-tuple, so that validation
 * sees and rejects exactly what was sent.
 */

/** A packed message: 6 fields, or 7 with a correlation id. */
type MessageTuple = unknown[]

const PACKED = 6
const PACKED_WITH_CORRELATION = 7

/**
 * Whether `message`'s keys are the envelope's five, and a correlation id only with a value: a tuple
 * has a place for each, so a key missing (or a correlation id's key holding undefined) would arrive
 * as a key holding undefined (or none).
 */
function hasExactlyEnvelopeKeys(message: object): boolean {
  let count = 0
  for (const key in message) {
    if (key === 'correlationId') {
      if ((message as { correlationId?: unknown }).correlationId === undefined) return false
    } else if (
      key !== 'id' &&
      key !== 'timestamp' &&
      key !== 'source' &&
      key !== 'payload' &&
      key !== 'priority'
    )
      return false
    else count++
  }
  return count === PACKED - 1
}

function isPlainPayload(payload: unknown): payload is { type: unknown; data: unknown } {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false
  let count = 0
  for (const key in payload) {
    if (key !== 'type' && key !== 'data') return false
    count++
  }
  return count === 2
}

/** An envelope with exactly the envelope's keys and a payload of `type` and `data`: what packs. */
export interface PlainEnvelope {
  id: unknown
  timestamp: unknown
  source: unknown
  payload: { type: unknown; data: unknown }
  priority: unknown
  correlationId?: unknown
}

/** `message` when it is a plain envelope, else undefined (it travels as it is). */
export function plainEnvelope(message: unknown): PlainEnvelope | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined
  if (!hasExactlyEnvelopeKeys(message)) return undefined
  return isPlainPayload((message as { payload?: unknown }).payload) ? (message as PlainEnvelope) : undefined
}

/** The form `message` travels in: a tuple when it is a plain envelope, else itself (arrays wrapped). */
export function packMessage(message: unknown): unknown {
  if (Array.isArray(message)) return [message]
  const m = plainEnvelope(message)
  if (m === undefined) return message
  const { payload } = m
  return m.correlationId === undefined
    ? [m.id, m.timestamp, m.source, payload.type, payload.data, m.priority]
    : [m.id, m.timestamp, m.source, payload.type, payload.data, m.priority, m.correlationId]
}

/**
 * The message `packed` stands for. Objects (from peers that send envelopes) are returned as they
 * are; an array of another length than a tuple's is returned as is, for validation to refuse.
 */
export function unpackMessage(packed: unknown): unknown {
  if (!Array.isArray(packed)) return packed
  const tuple = packed as MessageTuple
  switch (tuple.length) {
    case 1:
      return tuple[0]
    case PACKED:
    case PACKED_WITH_CORRELATION: {
      const message: Record<string, unknown> = {
        id: tuple[0],
        timestamp: tuple[1],
        source: tuple[2],
        payload: { type: tuple[3], data: tuple[4] },
        priority: tuple[5],
      }
      if (tuple.length === PACKED_WITH_CORRELATION) message.correlationId = tuple[6]
      return message
    }
    default:
      return packed
  }
}
