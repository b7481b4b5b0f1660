/**
 * Dead-letter entries, filters and replay results: shapes shared by the bus, the hub's wire and
 * the inspector.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'
import type { Envelope } from './message.js'

/**
 * Why a copy was dead-lettered: its retries ran out, its last attempt timed out, its subscriber
 * stayed away past the reconnect grace, the bus shut down, or its subscription ended.
 */
export const DeadLetterReason = Object.freeze({
  MaxRetriesExceeded: 'MaxRetriesExceeded',
  DeliveryTimeout: 'DeliveryTimeout',
  SubscriberUnavailable: 'SubscriberUnavailable',
  Shutdown: 'Shutdown',
  Unsubscribed: 'Unsubscribed',
} as const)
/** One of the `DeadLetterReason` values. */
export const deadLetterReasonSchema = z.enum(DeadLetterReason)
export type DeadLetterReason = z.infer<typeof deadLetterReasonSchema>

/** One entry of the dead-letter queue (`bus.deadLetters.list()`). */
export const deadLetterEntrySchema = z.object({
  /** The entry's own id (one message can be dead-lettered for several subscriptions). */
  id: z.string(),
  message: z.custom<Envelope>((value) => typeof value === 'object' && value !== null),
  subscriptionId: z.string(),
  module: z.string(),
  reason: deadLetterReasonSchema,
  /** Handler invocations, including the first (1 + retries); 0 if it was never tried. */
  attempts: z.number().int().nonnegative(),
  /** "Name: message" of the last failure. */
  lastError: z.string().optional(),
  firstFailedAt: z.date(),
  lastFailedAt: z.date(),
})
/** One entry of the dead-letter queue: the message, whose copy it was, why, and its attempts. */
export type DeadLetterEntry = z.infer<typeof deadLetterEntrySchema>

/** Selects entries; every present field must match. */
export const deadLetterFilterSchema = z
  .object({
    reason: deadLetterReasonSchema.optional(),
    // Not any string: one no dead letter can have (a ModuleId key such as 'Storage' for
    // 'storage', a type the catalog lacks, which the bus checks) would select nothing, silently.
    module: moduleIdSchema.optional(),
    subscriptionId: z.string().optional(),
    type: z.string().optional(),
  })
  .strict()
/** Selects dead-letter entries by reason, module, subscription or message type; every present field must match. */
export type DeadLetterFilter = z.infer<typeof deadLetterFilterSchema>

/**
 * Whether `entry` passes `filter`: the rule the bus selects by, so a view that filters entries
 * shows what a replay or purge by the same filter will take.
 */
export function matchesDeadLetterFilter(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.module === undefined || entry.module === filter.module) &&
    (filter.subscriptionId === undefined || entry.subscriptionId === filter.subscriptionId) &&
    (filter.type === undefined || entry.message.payload.type === filter.type)
  )
}

/** Entry ids, or a filter; nothing at all selects every entry. */
export type DeadLetterSelector = readonly string[] | DeadLetterFilter

/** What `deadLetters.replay` did, per entry. */
export interface ReplayResult {
  /** Entries enqueued again (and removed from the dead-letter queue). */
  replayed: string[]
  /** Entries left in place, with the reason. */
  failed: { id: string; error: string }[]
}
