/**
 * Frames that arrived on a link and could not be read, told to whoever should know without
 * echoing a flood of them: the first at once, then at most one report a second with how many came
 * since.
 */

import { unrefTimer } from './peer-timers.js'

/** The shortest time between two reports of unreadable frames on one link. */
export const UNREADABLE_REPORT_INTERVAL_MS = 1000

/** "a frame" or "`count` frames", for a report's words. */
export function framesCounted(count: number): string {
  return count === 1 ? 'a frame' : `${count} frames`
}

/** Frames a link could not read, counted and reported at most once a second. */
export class UnreadableFrames {
  private count = 0
  private firstReason = ''
  /** Set for a second after each report: what comes meanwhile waits for it. */
  private quiet: ReturnType<typeof setTimeout> | undefined
  private closed = false

  /** `report` gets how many frames could not be read since its last call, and the first's reason. */
  constructor(private readonly report: (count: number, reason: string) => void) {}

  /** One more frame could not be read, for `reason`. */
  add(reason: string): void {
    if (this.closed) return
    if (this.count === 0) this.firstReason = reason
    this.count++
    if (this.quiet === undefined) this.reportCounted()
  }

  /** The link ended: what is counted and not yet reported is reported now, and nothing after. */
  close(): void {
    this.closed = true
    clearTimeout(this.quiet)
    this.quiet = undefined
    if (this.count > 0) this.reportCounted()
  }

  private reportCounted(): void {
    const { count, firstReason } = this
    this.count = 0
    this.report(count, firstReason)
    if (this.closed) return
    this.quiet = setTimeout(() => {
      this.quiet = undefined
      if (this.count > 0) this.reportCounted()
    }, UNREADABLE_REPORT_INTERVAL_MS)
    unrefTimer(this.quiet)
  }
}
