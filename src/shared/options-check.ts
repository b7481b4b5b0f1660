/**
 * The options object of a call (`request`, `respond`), checked against its strict schema, so a
 * misspelt key is refused rather than ignored.
 */
import type { z } from 'zod'
import { describeThrown, EventBusError, issueAt } from './errors.js'

/**
 * `options` parsed by `schema`.
 * @param expected what the options are, said first in the refusal (`request options are { … }`)
 * @throws EventBusError `Configuration`: `expected`, then what is wrong, a misspelt key first (or
 * that reading them threw)
 */
export function checkOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  expected: string,
): z.output<S> {
  let parsed: z.ZodSafeParseResult<z.output<S>>
  try {
    parsed = schema.safeParse(options)
  } catch (error) {
    // Reading them threw (a getter, or a Proxy's trap): refused as options, not thrown as found.
    throw EventBusError.of('Configuration', {
      reason: `${expected}; the options could not be read: ${describeThrown(error)}`,
    })
  }
  if (parsed.success) return parsed.data
  // A misspelt key is what to say first: the key it misses (`replyTyp` for `replyType`) follows from it.
  parsed.error.issues.sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  )
  throw EventBusError.of('Configuration', { reason: `${expected}; ${issueAt(parsed.error, 'options')}` })
}
