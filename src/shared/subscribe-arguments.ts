import { z } from 'zod'
import { type DeliveryMode, deliveryModeSchema } from './delivery-mode.js'
import { describeThrown, describeValue, EventBusError, firstIssue } from './errors.js'
import { type CompiledFilter, compileFilter } from './filter.js'
import { checkOptions } from './options-check.js'

/** The most characters a subscription's label may have: it is one line of the inspector's table. */
export const MAX_LABEL_LENGTH = 80

/** What a subscription is for, in a few words, shown above its filter by the inspector. */
export const subscriptionLabelSchema = z.string().min(1).max(MAX_LABEL_LENGTH)

/**
 * `subscribe`'s optional last argument. `label` says what the subscription is for (as a broker's
 * consumer tag does); the inspector shows it above the filter. `request` and `respond` label the
 * subscriptions they make.
 */
export const subscribeOptionsSchema = z.strictObject({ label: subscriptionLabelSchema.optional() })
/** `{ label? }`: what a subscription is for (see `subscribeOptionsSchema`). */
export type SubscribeOptions = z.infer<typeof subscribeOptionsSchema>

/**
 * What is wrong in a mode whose kind was understood (`timeoutMs: 0`, or a `timeoutMs` given to
 * BestEffort), as `mode.timeoutMs: …`; undefined when the kind itself is wrong or missing, which
 * the list of the three forms says well enough.
 */
function wrongField(error: z.ZodError): string | undefined {
  const issue = error.issues[0]
  if (
    issue === undefined ||
    issue.path[0] === 'kind' ||
    (issue.path.length === 0 && issue.code === 'invalid_type')
  )
    return undefined
  return firstIssue(error, 'mode')
}

/**
 * Checks what `subscribe` was given besides the module, as the bus and an endpoint both do before
 * anything else, so a bad call gets the same answer in process and across a port.
 * @throws EventBusError `InvalidFilter` for the filter, `Configuration` for the mode, the handler or
 * the options
 */
export function checkSubscribeArguments(
  filter: unknown,
  mode: unknown,
  handler: unknown,
  options: unknown,
  isKnownType: (type: string) => boolean,
): { filter: CompiledFilter; mode: DeliveryMode; label: string | undefined } {
  const compiled = compileFilter(filter, isKnownType)
  let parsedMode: ReturnType<typeof deliveryModeSchema.safeParse> | undefined
  let detail: string | undefined
  try {
    parsedMode = deliveryModeSchema.safeParse(mode)
  } catch (error) {
    // Reading it threw (a getter, or a Proxy's trap): as wrong as any other mode, and said so.
    detail = `the mode could not be read: ${describeThrown(error)}`
  }
  if (!parsedMode?.success) {
    detail ??= parsedMode && wrongField(parsedMode.error)
    throw EventBusError.of('Configuration', {
      reason: `subscribe: ${detail ? `${detail}; ` : ''}the delivery mode must be { kind: 'BestEffort' }, { kind: 'Reliable', timeoutMs? } or { kind: 'LatestOnly' } (got ${describeValue(mode)})`,
    })
  }
  if (typeof handler !== 'function') {
    throw EventBusError.of('Configuration', { reason: 'subscribe: the handler must be a function' })
  }
  const { label } =
    options === undefined
      ? {}
      : checkOptions(
          subscribeOptionsSchema,
          options,
          `subscribe options are { label?: 1 to ${MAX_LABEL_LENGTH} characters }`,
        )
  return { filter: compiled, mode: parsedMode.data, label }
}
