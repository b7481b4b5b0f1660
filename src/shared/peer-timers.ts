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

/**
 * Runs `tick` every `intervalMs` with the monotonic time (`performance.now()`, which wall-clock
 * jumps do not move) and whether this side was away since the last tick (the tick came more than
 * two intervals late: a peer that slept with the machine may not have spoken yet). Each tick judges
 * one turn of the event loop after its timer, once what came by then is read. The timers keep no
 * process alive.
 * @returns a function that stops it
 */
export function awakeInterval(intervalMs: number, tick: (now: number, away: boolean) => void): () => void {
  let last = performance.now()
  let stopped = false
  const timer = setInterval(() => {
    const now = performance.now()
    const away = now - last > 2 * intervalMs
    last = now
    unrefTimer(
      setTimeout(() => {
        if (!stopped) tick(performance.now(), away)
      }, 0),
    )
  }, intervalMs)
  unrefTimer(timer)
  return () => {
    stopped = true
    clearInterval(timer)
  }
}

/** Lets the process end while `timer` waits (Node); browsers have no such thing. */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  ;(timer as { unref?: () => void }).unref?.()
}

/**
 * Runs `fire` once, `ms` from now, after what arrived by then has been read: the verdict waits one
 * more turn of the event loop (a zero timer, which comes after the loop reads its input), so a
 * peer whose answer was queued in time is not judged late. With `keepsProcessAlive` false, the
 * timer alone keeps no process running.
 * @returns a function that cancels it, at either stage
 */
export function timeoutAfterInput(ms: number, fire: () => void, keepsProcessAlive = true): () => void {
  const start = (callback: () => void, delay: number) => {
    const timer = setTimeout(callback, delay)
    if (!keepsProcessAlive) unrefTimer(timer)
    return timer
  }
  let timer = start(() => {
    timer = start(fire, 0)
  }, ms)
  return () => clearTimeout(timer)
}
