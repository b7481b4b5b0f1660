import type { z } from 'zod'
import { type DeliveryMode, deliveryModeSchema } from './delivery-mode.js'
import { EventBusError, firstIssue } from './errors.js'
import { type CompiledFilter, compileFilter } from './filter.js'

/** `value` for an error message; JSON where it can be, never throwing. */
function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return 'a value that could not be read'
  }
}

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
 * @throws EventBusError `InvalidFilter` for the filter, `Configuration` for the mode or the handler
 */
export function checkSubscribeArguments(
  filter: unknown,
  mode: unknown,
  handler: unknown,
  isKnownType: (type: string) => boolean,
): { filter: CompiledFilter; mode: DeliveryMode } {
  const compiled = compileFilter(filter, isKnownType)
  let parsedMode: ReturnType<typeof deliveryModeSchema.safeParse> | undefined
  try {
    parsedMode = deliveryModeSchema.safeParse(mode)
  } catch {
    // Reading it threw (a getter, or a Proxy's trap): as wrong as any other mode.
  }
  if (!parsedMode?.success) {
    const detail = parsedMode && wrongField(parsedMode.error)
    throw EventBusError.of('Configuration', {
      reason: `subscribe: ${detail ? `${detail}; ` : ''}the delivery mode must be { kind: 'BestEffort' }, { kind: 'Reliable', timeoutMs? } or { kind: 'LatestOnly' } (got ${describeValue(mode)})`,
    })
  }
  if (typeof handler !== 'function') {
    throw EventBusError.of('Configuration', { reason: 'subscribe: the handler must be a function' })
  }
  return { filter: compiled, mode: parsedMode.data }
}
