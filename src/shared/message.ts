/**
 * Payloads and the message envelope. Factories here never validate: `publish` validates once per
 * message, so building a message stays cheap and the single validation happens where it matters.
 */
import { z } from 'zod'
import {
  type BuiltinCatalog,
  builtinCatalog,
  type Catalog,
  type DataOf,
  MessagePriority,
  type MessageType,
  messagePrioritySchema,
  moduleIdSchema,
  type TypeOf,
} from './catalog.js'
import { newMessageId } from './message-id.js'

/** `{ type, data }` for one message type; a discriminated union when `T` is a union. */
export type MessagePayload<T extends TypeOf<C> = MessageType, C extends Catalog = BuiltinCatalog> = {
  [K in T]: { readonly type: K; readonly data: DataOf<K, C> }
}[T]

/** A payload of any catalog, before its type is known. */
export interface AnyPayload {
  /** The message type: a key of the catalog. */
  readonly type: string
  /** The data, checked against the type's schema when published. */
  readonly data: unknown
}

type PayloadConstructors = { readonly [K in MessageType]: (data: DataOf<K>) => MessagePayload<K> }

/** One constructor per built-in type: `MessagePayload.RawEvent(data)`, `MessagePayload.ModuleReady(id)`. */
export const MessagePayload: PayloadConstructors = Object.freeze(
  Object.fromEntries(
    Object.keys(builtinCatalog).map((type) => [type, (data: unknown) => Object.freeze({ type, data })]),
  ),
) as PayloadConstructors

/** The envelope's fields other than the payload; `payload` is checked against the catalog. */
export const envelopeHeaderSchema = z.object({
  id: z.string().min(1).max(128),
  timestamp: z.date(),
  source: moduleIdSchema,
  priority: messagePrioritySchema,
  correlationId: z.string().min(1).max(128).optional(),
})

/**
 * What a caller may choose of an envelope built for it (`window.skellyBus.publish(type, data,
 * options)`); the rest (id, timestamp, source) is the builder's.
 */
export const publishOptionsSchema = envelopeHeaderSchema
  .pick({ priority: true, correlationId: true })
  .partial()
  .strict()
/** `{ priority?, correlationId? }`: what a caller may set of an envelope the bridge builds for it. */
export type PublishOptions = z.infer<typeof publishOptionsSchema>

/** A frozen message envelope around payload `P`. */
export type Envelope<P extends AnyPayload = AnyPayload> = Readonly<z.infer<typeof envelopeHeaderSchema>> & {
  readonly payload: P
}

/** A message of type `T` (a union of types gives a union of payloads) in catalog `C`. */
export type BusMessage<T extends TypeOf<C> = MessageType, C extends Catalog = BuiltinCatalog> = Envelope<
  MessagePayload<T, C>
>

/** A payload whose type name is inferred as a literal (through `T`), for application types too. */
type Payload<T extends string> = { readonly type: T; readonly data: unknown }

function envelope<P extends AnyPayload>(
  source: string,
  payload: P,
  priority: MessagePriority,
  correlationId?: string,
): Envelope<P> {
  const message: Envelope<P> =
    correlationId === undefined
      ? { id: newMessageId(), timestamp: new Date(), source, payload, priority }
      : { id: newMessageId(), timestamp: new Date(), source, payload, priority, correlationId }
  return Object.freeze(message)
}

/** Factories for {@link BusMessage}: a fresh UUID v4 id and the current time. */
export const BusMessage = Object.freeze({
  /** A message at `Normal` priority. */
  create<T extends string, P extends Payload<T>>(source: string, payload: P): Envelope<P> {
    return envelope(source, payload, MessagePriority.Normal)
  },
  /** A message at the given priority. */
  withPriority<T extends string, P extends Payload<T>>(
    source: string,
    payload: P,
    priority: MessagePriority,
  ): Envelope<P> {
    return envelope(source, payload, priority)
  },
  /** A reply: `correlationId` is the original's id and the original's priority is kept. */
  replyTo<T extends string, P extends Payload<T>>(
    original: Envelope,
    source: string,
    payload: P,
  ): Envelope<P> {
    return envelope(source, payload, original.priority, original.id)
  },
})

/** The message's type, `msg.payload.type`. */
export function messageType<P extends AnyPayload>(message: Envelope<P>): P['type'] {
  return message.payload.type
}
