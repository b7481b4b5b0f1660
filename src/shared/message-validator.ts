/**
 * Message validation as `publish` does it: the type must be in the catalog, the message must match
 * its schema and stay within the size limit. Shared by the bus and by the producer side of a
 * direct channel, so a message taking one hop is checked exactly as one taking two.
 */
import { z } from 'zod'
import type { Catalog } from './catalog.js'
import { compiled } from './compiled-schema.js'
import {
  describeThrown,
  EventBusError,
  isEventBusError,
  kindOf,
  type RejectionIssue,
  toRejectionIssues,
} from './errors.js'
import { type Envelope, envelopeHeaderSchema } from './message.js'
import { nestedValue } from './nested-map.js'
import { encodedSizeOver, UnencodableValueError } from './size.js'

function rejected(reason: string, issues: RejectionIssue[] = []): EventBusError {
  return EventBusError.of('MessageRejected', { reason, issues })
}

/**
 * @throws EventBusError `MessageRejected` with the schema's issues when `message` fails it. The
 * compiled check that builds no output comes first: parsing copies the whole message (~200 bytes
 * of garbage per publish, on every thread that validates) only for the copy to be dropped. Its
 * issues are read only for a message it refuses.
 */
function matchSchema(schema: z.ZodType, type: unknown, message: Envelope): void {
  if (schema.validate(message)) return
  const result = schema.safeParse(message)
  if (!result.success)
    throw rejected(`${String(type)} does not match its schema`, toRejectionIssues(result.error))
}

/** The interpreted schema a message of `type` with data `data` must match: its envelope and payload. */
export function messageSchema(type: string, data: z.ZodType): z.ZodType {
  return envelopeHeaderSchema.extend({ payload: z.object({ type: z.literal(type), data }) })
}

/** Why a message whose `payload.type` is `type` has no schema to match. */
function unknownTypeReason(type: unknown): string {
  if (typeof type === 'string') return `unknown message type '${type}'`
  if (type === undefined) return 'payload.type is missing'
  return `payload.type must be a string naming a message type, got ${kindOf(type)}`
}

export interface MessageValidator {
  /** Whether `type` is in the catalog. */
  knows(type: string): boolean
  /** @throws EventBusError `MessageRejected` naming what is wrong */
  validate(message: Envelope): void
}

/**
 * Compiled message schemas by payload schema, then type: compiled once per process, not once per
 * bus or client. Each compilation makes new functions, which V8 optimizes from scratch and which
 * make the calls into them polymorphic: a bus built after another ran ~5 % slower per message.
 */
const compiledMessageSchemas = new WeakMap<z.ZodType, Map<string, z.ZodType>>()

function compiledMessageSchema(type: string, data: z.ZodType): z.ZodType {
  return nestedValue(compiledMessageSchemas, data, type, () => compiled(messageSchema(type, data)))
}

/** A validator for `catalog` with messages of at most `maxMessageBytes` (superjson UTF-8 length). */
export function messageValidator(catalog: Catalog, maxMessageBytes: number): MessageValidator {
  const schemas = new Map<string, z.ZodType>()
  for (const [type, data] of Object.entries(catalog)) schemas.set(type, compiledMessageSchema(type, data))
  /** @throws EventBusError `MessageRejected`, or whatever reading `message` throws */
  const check = (message: Envelope): void => {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw rejected('a message is an object { id, timestamp, source, payload, priority }')
    }
    const type: unknown = (message.payload as { type?: unknown } | undefined)?.type
    const schema = typeof type === 'string' ? schemas.get(type) : undefined
    if (schema === undefined) throw rejected(unknownTypeReason(type))
    let oversize: number | undefined
    try {
      oversize = encodedSizeOver(message, maxMessageBytes)
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error
      // A key or value the schema refuses too is reported as the schema sees it (its issue
      // names the field). A value too deep is never parsed: the schema could recurse forever.
      if (error.path === undefined) throw rejected(error.message)
      matchSchema(schema, type, message)
      throw rejected(error.message, [{ path: error.path, message: error.message, code: 'custom' }])
    }
    if (oversize !== undefined) {
      throw rejected(`the message is ${oversize} bytes, over maxMessageBytes (${maxMessageBytes})`)
    }
    matchSchema(schema, type, message)
  }
  return {
    knows: (type) => schemas.has(type),
    validate(message) {
      try {
        check(message)
      } catch (error) {
        if (isEventBusError(error)) throw error
        // Reading it threw: a getter, or a Proxy's trap.
        throw rejected(`the message could not be read: ${describeThrown(error)}`)
      }
    },
  }
}
