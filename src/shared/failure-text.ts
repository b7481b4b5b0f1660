/**
 * The text a failed attempt records (a dead letter's `lastError`, a nack's reason), bounded the same
 * in process, at an endpoint and on the wire: a handler's error message can be any length, and a
 * dead letter keeps it, in memory and in the durable log, for as long as the entry stays.
 */
import { describeThrown } from './errors.js'

/** The longest failure text a dead letter or a nack carries, in characters. */
export const MAX_FAILURE_TEXT = 4096

/** What a failed attempt records of `error`: {@link describeThrown}, cut to {@link MAX_FAILURE_TEXT}. */
export function failureText(error: unknown): string {
  return describeThrown(error).slice(0, MAX_FAILURE_TEXT)
}
