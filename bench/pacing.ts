/** Sending at a fixed offered rate, as the latency and resources cases' producers do. */

/**
 * Calls `send(n)` for n = 0 … total − 1 at `rate` a second: every millisecond, what the rate owes
 * since the start, at once (timers are no finer, and a burst per millisecond is what a busy
 * module's input looks like).
 */
export async function sendPaced(total: number, rate: number, send: (n: number) => void): Promise<void> {
  const start = performance.now()
  let n = 0
  while (n < total) {
    const owed = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000))
    for (; n < owed; n++) send(n)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}
