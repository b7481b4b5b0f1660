/**
 * Publishes a module gives up on. A module that produces on a clock (DataCapture's events,
 * Storage's status and batches) does not wait for a refused publish: the next one follows. But a
 * refusal says something a user must see (a `QueueFull` means a subscriber is not keeping up, a
 * `Disconnected` that the hub is gone), so none is dropped without a word: they are counted, and
 * every interval that had any is said once, in the module's log and as an `Error` message on the
 * bus (`errorType: 'PublishesSkipped'`), which the inspector's tail shows.
 */
import type { BusClient } from '../shared/client.js'
import { monotonicMs } from '../shared/clock.js'
import { isEventBusError } from '../shared/errors.js'
import { errorReport } from './define.js'

/** How often skipped publishes are said, at most. */
export const SKIPPED_REPORT_MS = 5_000

export interface SkippedPublishes {
  /** Counts a publish of `type` given up after `error`. */
  skip(type: string, error: unknown): void
  /**
   * Says what is still uncounted, and stops. Resolves once the hub has answered that last report
   * (or it failed, which is logged): a module that closes its connection sooner would lose the
   * answer, and log a report the hub most likely had as one it could not make.
   */
  stop(): Promise<void>
}

/** What a refusal's kind means for the module, to say beside it. */
function meaning(kind: string): string {
  if (kind === 'QueueFull') return 'a subscriber’s queue is full: it is not keeping up'
  if (kind === 'Disconnected') return 'the connection to the hub is down'
  return 'refused'
}

/** Counts `bus`'s skipped publishes and says them in `log` and on the bus every `intervalMs` that had any. */
export function skippedPublishes(
  bus: BusClient,
  log: (message: string) => void,
  intervalMs = SKIPPED_REPORT_MS,
): SkippedPublishes {
  /** Counts by type and refusal kind, since the last report. */
  let counts = new Map<string, { type: string; kind: string; count: number }>()
  let countingSince = monotonicMs()

  /** Logs and publishes what was counted, if anything; resolves once the publish has settled. */
  function report(): Promise<void> {
    // The last report, as the module stops, covers less than an interval: it says how much.
    const now = monotonicMs()
    const elapsedMs = Math.round(now - countingSince)
    countingSince = now
    if (counts.size === 0) return Promise.resolve()
    const skipped = [...counts.values()]
    counts = new Map()
    const total = skipped.reduce((sum, entry) => sum + entry.count, 0)
    const span = elapsedMs < 1000 ? `${elapsedMs} ms` : `${Math.round(elapsedMs / 100) / 10} s`
    const what = skipped.map(({ type, kind, count }) => `${count} ${type} (${kind}: ${meaning(kind)})`)
    const message = `skipped ${total} publish${total === 1 ? '' : 'es'} in the last ${span}: ${what.join(', ')}`
    log(message)
    return (
      bus
        .publish(errorReport(bus.module, 'PublishesSkipped', message, { elapsedMs, skipped }))
        // Said in the log already; this one cannot be reported on the bus it failed to reach.
        .then(
          () => undefined,
          (error: unknown) => log(`could not report the skipped publishes on the bus: ${String(error)}`),
        )
    )
  }

  const timer = setInterval(() => void report(), intervalMs)
  return {
    skip(type, error) {
      const kind = isEventBusError(error) ? error.kind : 'Error'
      const key = `${type}\u0000${kind}`
      const entry = counts.get(key)
      if (entry) entry.count++
      else counts.set(key, { type, kind, count: 1 })
    },
    stop() {
      clearInterval(timer)
      return report()
    },
  }
}
