/**
 * The monotonic clock (milliseconds, `performance.now()`) read through a reference taken once.
 * Node exposes `performance` as a lazy accessor on the global object, so each `performance.now()`
 * first runs a getter: ~40 ns a read on the benchmark's VM, half as much again as the read itself,
 * and the bus reads the clock at every publish and every delivery.
 */
const performanceClock = globalThis.performance

export function monotonicMs(): number {
  return performanceClock.now()
}

/**
 * The longest wait any option may ask for (ms): a day. A timer counts at most 2^31 − 1 ms (~24.8
 * days); Node fires a longer one after 1 ms, so a drain asked to wait longer would not wait at all.
 * Ten times this (a closed channel's longest memory) still fits.
 */
export const LONGEST_WAIT_MS = 86_400_000
