/**
 * The dead-letter queue: bounded, oldest evicted first (and counted). Replay needs the router, so
 * the bus implements it on top of `take`.
 */
import { z } from 'zod'
import type { Envelope } from '../../shared/message.js'

export const DeadLetterReason = {
  MaxRetriesExceeded: 'MaxRetriesExceeded',
  DeliveryTimeout: 'DeliveryTimeout',
  SubscriberUnavailable: 'SubscriberUnavailable',
  Shutdown: 'Shutdown',
  Unsubscribed: 'Unsubscribed',
} as const
export const deadLetterReasonSchema = z.enum(DeadLetterReason)
export type DeadLetterReason = z.infer<typeof deadLetterReasonSchema>

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
export type DeadLetterEntry = z.infer<typeof deadLetterEntrySchema>

/** Selects entries; every present field must match. */
export const deadLetterFilterSchema = z
  .object({
    reason: deadLetterReasonSchema.optional(),
    module: z.string().optional(),
    subscriptionId: z.string().optional(),
    type: z.string().optional(),
  })
  .strict()
export type DeadLetterFilter = z.infer<typeof deadLetterFilterSchema>

/** Entry ids, or a filter; nothing at all selects every entry. */
export type DeadLetterSelector = readonly string[] | DeadLetterFilter

function matches(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.module === undefined || entry.module === filter.module) &&
    (filter.subscriptionId === undefined || entry.subscriptionId === filter.subscriptionId) &&
    (filter.type === undefined || entry.message.payload.type === filter.type)
  )
}

export class DeadLetterStore {
  private readonly entries = new Map<string, DeadLetterEntry>()
  /** Entries pushed out by newer ones since the bus started. */
  evicted = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  add(entry: DeadLetterEntry): void {
    this.entries.set(entry.id, Object.freeze(entry))
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
      this.evicted++
    }
  }

  /** Entries selected by ids or filter, oldest first, without removing them. */
  select(selector: DeadLetterSelector = {}): DeadLetterEntry[] {
    if (Array.isArray(selector)) {
      return (selector as readonly string[]).flatMap((id) => this.entries.get(id) ?? [])
    }
    const filter = selector as DeadLetterFilter
    return [...this.entries.values()].filter((entry) => matches(entry, filter))
  }

  /** Removes one entry; whether it was there. */
  remove(id: string): boolean {
    return this.entries.delete(id)
  }
}
