/**
 * The wire protocol between the hub and its endpoints (version 1). Frames travel in batches: one
 * unit on the port is an array of frames. The schemas here are what the hub validates every
 * inbound frame against; docs/protocol.md describes the same frames for other languages.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'
import { deliveryModeSchema } from './delivery-mode.js'
import { eventBusErrorDataSchema } from './errors.js'
import { plainFilterSchema } from './filter.js'
import type { Envelope } from './message.js'

export const PROTOCOL_VERSION = 1

/** Largest request id; ids wrap around below it. */
const requestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const deliveryId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const subscriptionId = z.string().min(1).max(128)

/** A message in a frame; the bus validates it fully when it is published. */
const message = z.custom<Envelope>((value) => typeof value === 'object' && value !== null, {
  error: 'msg must be a message object',
})

export const messageTypeListSchema = z.union([z.literal('*'), z.array(z.string().min(1).max(128)).max(1024)])

/** What an attachment may do; chosen by the main process, never by the endpoint. */
export const permissionsSchema = z
  .object({
    publish: messageTypeListSchema,
    subscribe: messageTypeListSchema,
    inspect: z.boolean().optional(),
  })
  .strict()
export type Permissions = z.infer<typeof permissionsSchema>

export const deadLetterOperationSchema = z.enum(['list', 'replay', 'purge'])

/** Frames an endpoint sends to the hub. */
export const endpointFrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), v: z.number().int(), module: moduleIdSchema.optional() }).strict(),
  z.object({ t: z.literal('pub'), rid: requestId, msg: message }).strict(),
  z
    .object({
      t: z.literal('sub'),
      rid: requestId,
      module: z.string().max(128),
      filter: plainFilterSchema,
      mode: deliveryModeSchema,
    })
    .strict(),
  z.object({ t: z.literal('unsub'), rid: requestId, sid: subscriptionId }).strict(),
  /** Deliveries handled successfully (including those the endpoint's predicate declined). */
  z.object({ t: z.literal('ack'), ids: z.array(deliveryId).max(65_536) }).strict(),
  /** A delivery whose handler failed; `timedOut` when it did not settle in time. */
  z
    .object({ t: z.literal('nack'), id: deliveryId, error: z.string().max(4096), timedOut: z.boolean() })
    .strict(),
  z.object({ t: z.literal('metrics'), rid: requestId }).strict(),
  z
    .object({
      t: z.literal('dlq'),
      rid: requestId,
      op: deadLetterOperationSchema,
      selector: z.unknown().optional(),
    })
    .strict(),
  /** Turns a privileged stream on or off. */
  z
    .object({ t: z.literal('stream'), rid: requestId, name: z.enum(['metrics', 'tail']), on: z.boolean() })
    .strict(),
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('pong') }).strict(),
  /** The endpoint closes on purpose: its subscriptions end at once. */
  z.object({ t: z.literal('bye') }).strict(),
])
export type EndpointFrame = z.infer<typeof endpointFrameSchema>

/** An error as it crosses the wire: the error's data plus its message. */
export const wireErrorSchema = z.object({ data: eventBusErrorDataSchema, message: z.string() })
export type WireError = z.infer<typeof wireErrorSchema>

/** One entry of the message tail (inspector stream). */
export interface TailEntry {
  message: Envelope
  /** Subscriptions it was routed to. */
  routedTo: number
}

/** Frames the hub sends to an endpoint. */
export const hubFrameSchema = z.discriminatedUnion('t', [
  z
    .object({
      t: z.literal('welcome'),
      v: z.number().int(),
      module: moduleIdSchema,
      permissions: permissionsSchema,
      workers: z.number().int().positive(),
      heartbeatMs: z.number().int().nonnegative(),
    })
    .strict(),
  z.object({ t: z.literal('res'), rid: requestId, ok: z.unknown() }).strict(),
  z.object({ t: z.literal('rej'), rid: requestId, error: wireErrorSchema }).strict(),
  /** Successful publishes `from`…`to` (inclusive), acknowledged in one frame. */
  z.object({ t: z.literal('okr'), from: requestId, to: requestId }).strict(),
  z
    .object({
      t: z.literal('dlv'),
      sid: subscriptionId,
      id: deliveryId,
      msg: message,
      /** Attempt timeout the endpoint enforces on its handler. */
      timeoutMs: z.number().positive(),
    })
    .strict(),
  /** A frame the hub could not accept, with no request to answer. */
  z.object({ t: z.literal('err'), error: wireErrorSchema }).strict(),
  z.object({ t: z.literal('metrics'), snapshot: z.unknown() }).strict(),
  z.object({ t: z.literal('tail'), entries: z.array(z.custom<TailEntry>()), sampled: z.boolean() }).strict(),
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('pong') }).strict(),
  /** The hub ends the attachment (detach, close, refusal). */
  z.object({ t: z.literal('bye'), reason: z.string() }).strict(),
])
export type HubFrame = z.infer<typeof hubFrameSchema>

export type Frame = EndpointFrame | HubFrame

/** Frame fields that hold rich values (Date, Map, Set, BigInt …), superjson-encoded over text. */
export const RICH_FIELDS = ['msg', 'ok', 'snapshot', 'entries', 'selector'] as const
