/**
 * Delivery modes as plain objects, so they cross ports and the context bridge unchanged.
 */
import { z } from 'zod'

/** A delivery mode in its plain form, as every API and the wire accept it. */
export const deliveryModeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('BestEffort') }).strict(),
  z
    .object({
      kind: z.literal('Reliable'),
      /** Attempt timeout; the bus's `deliveryTimeoutMs` applies when absent and bounds it when present. */
      timeoutMs: z.number().positive().optional(),
    })
    .strict(),
  z.object({ kind: z.literal('LatestOnly') }).strict(),
])

/** How a subscription receives messages: `{ kind: 'BestEffort' }`, `{ kind: 'Reliable', timeoutMs }` or `{ kind: 'LatestOnly' }`. */
export type DeliveryMode = z.infer<typeof deliveryModeSchema>
/** `'BestEffort'`, `'Reliable'` or `'LatestOnly'`. */
export type DeliveryModeKind = DeliveryMode['kind']

/** Builders for the three delivery modes. */
export const DeliveryMode = Object.freeze({
  /** No acknowledgement; a full queue drops the new copy (counted). */
  BestEffort: Object.freeze({ kind: 'BestEffort' }) as DeliveryMode & { kind: 'BestEffort' },
  /** The handler's settled promise is the ack; failures are retried with backoff, then dead-lettered. */
  Reliable(options: { timeoutMs?: number } = {}): DeliveryMode & { kind: 'Reliable' } {
    return options.timeoutMs === undefined
      ? { kind: 'Reliable' }
      : { kind: 'Reliable', timeoutMs: options.timeoutMs }
  },
  /** One delivery in flight; only the newest pending message per (type, source) is kept. */
  LatestOnly: Object.freeze({ kind: 'LatestOnly' }) as DeliveryMode & { kind: 'LatestOnly' },
})
