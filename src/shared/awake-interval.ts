/**
 * Timers that judge a peer by what it sent, and must not do so right after this side was away.
 * A timer runs before the port's queued messages are read, so when this thread was busy or
 * paused, or the machine slept, whatever the peer sent meanwhile is still unread at the first
 * tick: judging it silent, or its answers late, then would be wrong. That tick is marked `away`;
 * the next one can judge.
 */

/**
 * Runs `tick` every `intervalMs` with the monotonic time (`performance.now()`, which wall-clock
 * jumps do not move) and whether this side was away since the last tick (the tick came more than
 * an interval late). The timer keeps no process alive.
 * @returns a function that stops it
 */
export function awakeInterval(intervalMs: number, tick: (now: number, away: boolean) => void): () => void {
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    const away = now - last > 2 * intervalMs
    last = now
    tick(now, away)
  }, intervalMs)
  ;(timer as { unref?: () => void }).unref?.()
  return () => clearInterval(timer)
}
