/**
 * Timers that judge a peer by what it sent (or did not), and must not do so before reading what
 * came. When this thread was away (busy, paused, or the machine asleep), a timer that fell due
 * meanwhile can run before the messages that arrived meanwhile are read. In Node (measured on 20),
 * after a long task in a `setImmediate` callback the next turn runs every timer that fell due before
 * it reads its ports; after one in a timer's callback, the timers already due as that one ran do
 * (a long task in a message handler lets the messages queued meanwhile be read first). Judging the
 * peer silent, its answers late or its return too late, then would be wrong; and a wall clock
 * counts a sleep as time the peer kept silent.
 */

import { monotonicMs } from './clock.js'

/**
 * Runs `tick` every `intervalMs` with the monotonic time (`performance.now()`, which wall-clock
 * jumps do not move) and whether this side was away since the last tick: its timer came more than
 * two intervals after the last one, or the turn that judges came that long after its timer (a peer
 * that slept with the machine may not have spoken yet). A busy loop's few milliseconds between
 * them are no absence: a tick then still judges, or a hung peer would never be noticed under
 * load. Each tick judges once what came by then is read (see `afterInputRead`). The timers keep no
 * process alive.
 * @returns a function that stops it
 */
export function awakeInterval(intervalMs: number, tick: (now: number, away: boolean) => void): () => void {
  let last = monotonicMs()
  let cancelTurn: (() => void) | undefined
  const timer = setInterval(() => {
    const firedAt = monotonicMs()
    const timerLate = firedAt - last > 2 * intervalMs
    last = firedAt
    cancelTurn = afterInputRead(() => {
      const now = monotonicMs()
      tick(now, timerLate || now - firedAt > 2 * intervalMs)
    }, false)
  }, intervalMs)
  unrefTimer(timer)
  return () => {
    clearInterval(timer)
    cancelTurn?.()
  }
}

/**
 * Runs `fire` once, `ms` from now, after what arrived by then has been read (see
 * `afterInputRead`), so a peer whose answer was queued in time is not judged late. With
 * `keepsProcessAlive` false, the timers alone keep no process running.
 * @returns a function that cancels it, at any stage
 */
export function timeoutAfterInput(ms: number, fire: () => void, keepsProcessAlive = true): () => void {
  let cancelTurn: (() => void) | undefined
  const timer = startTimer(
    () => {
      cancelTurn = afterInputRead(fire, keepsProcessAlive)
    },
    ms,
    keepsProcessAlive,
  )
  return () => {
    clearTimeout(timer)
    cancelTurn?.()
  }
}

/**
 * A zero timer that runs this much after it was set ran after this thread was away (a long task
 * came between them), before the loop read what came meanwhile. A prompt one takes a millisecond
 * or two; a loaded loop's turn, a few more.
 */
const LATE_TURN_MS = 20

/**
 * Runs `callback` on a later turn of the event loop, once the input that came by then is read: a
 * zero timer runs after the loop has read its ports, unless a long task came between the timer
 * being set and its turn (then the loop runs it first). Such a late turn waits one more.
 * @returns a function that cancels it
 */
function afterInputRead(callback: () => void, keepsProcessAlive: boolean): () => void {
  const setAt = monotonicMs()
  let timer = startTimer(
    () => {
      if (monotonicMs() - setAt <= LATE_TURN_MS) return callback()
      timer = startTimer(callback, 0, keepsProcessAlive)
    },
    0,
    keepsProcessAlive,
  )
  return () => clearTimeout(timer)
}

function startTimer(
  callback: () => void,
  ms: number,
  keepsProcessAlive: boolean,
): ReturnType<typeof setTimeout> {
  const timer = setTimeout(callback, ms)
  if (!keepsProcessAlive) unrefTimer(timer)
  return timer
}

/** Lets the process end while `timer` waits (Node); browsers have no such thing. */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  ;(timer as { unref?: () => void }).unref?.()
}
