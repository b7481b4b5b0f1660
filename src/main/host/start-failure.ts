/**
 * Why a host could not start, as its user is told: one line for the failures the user's own setup
 * causes, shown without a stack by both hosts (the headless host on stderr, the Electron host in an
 * error box); anything else is a defect and keeps its stack.
 */
import { isEventBusError } from '../../shared/errors.js'

/** A start refused by the user's own setup, such as a resource another host holds. */
export class StartRefused extends Error {}

/**
 * The one line a user can act on for a failure their setup caused: a setting not accepted
 * (`Configuration`), a start refused (`StartRefused`), or the system's own refusal, which names its
 * call and path (`EACCES: permission denied, mkdir '…'`).
 * @returns undefined for anything else (a defect)
 */
export function startFailureLine(error: unknown): string | undefined {
  const systemError = error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string'
  const configuration = isEventBusError(error) && error.kind === 'Configuration'
  return error instanceof StartRefused || configuration || systemError ? error.message : undefined
}
