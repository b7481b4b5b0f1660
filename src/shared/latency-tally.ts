/**
 * Latencies counted by value, cheaply, for an HDR histogram (microseconds, 3 significant digits) to
 * take in bulk: the bus tallies its own deliveries here before its histogram, and a direct channel's
 * producer tallies every delivery it makes between two reports, which carry the tally to the hub.
 */

const MICROS_PER_MS = 1000

/**
 * Below this, an HDR histogram of 3 significant digits has one slot per microsecond, so those values
 * are counted in a plain array; above it, a slot spans 2, 4, 8 … µs and values are counted by slot.
 */
export const EXACT_BELOW = 2048

/** The longest latency a tally keeps (µs, ~38 hours); longer ones count as this. */
export const MAX_LATENCY_MICROS = 2 ** 37

/**
 * Distinct slots a tally can hold at most: every value below {@link EXACT_BELOW}, then 1,024 slots
 * per doubling up to {@link MAX_LATENCY_MICROS}. A report's tally never needs more.
 */
export const MAX_LATENCY_SLOTS =
  EXACT_BELOW + 1024 * (Math.log2(MAX_LATENCY_MICROS) - Math.log2(EXACT_BELOW) + 1)

/** A latency in milliseconds as whole microseconds, within what a tally keeps. */
export function microsOf(latencyMs: number): number {
  return latencyMs > 0 ? Math.min(Math.round(latencyMs * MICROS_PER_MS), MAX_LATENCY_MICROS) : 0
}

/** How many microseconds the HDR slot holding `micros` spans (3 significant digits). */
export function slotWidth(micros: number): number {
  return micros < EXACT_BELOW ? 1 : 2 ** (Math.floor(Math.log2(micros)) - 10)
}

/** The lowest value of the HDR slot holding `micros`: a histogram counts both alike. */
export function slotOf(micros: number): number {
  const width = slotWidth(micros)
  return Math.floor(micros / width) * width
}

/** Values below this (~36 minutes) are counted in an array by slot; longer ones in a Map. */
const INDEXED_BELOW = 2 ** 31
/** Slots below {@link INDEXED_BELOW}: every value below {@link EXACT_BELOW}, then 1,024 per doubling. */
const INDEXED_SLOTS = EXACT_BELOW + 1024 * (31 - 11)

/** The index of the slot holding `micros` (below {@link INDEXED_BELOW}). */
function indexOf(micros: number): number {
  if (micros < EXACT_BELOW) return micros
  const shift = 21 - Math.clz32(micros) // floor(log2(micros)) - 10
  return EXACT_BELOW + (shift - 1) * 1024 + ((micros >>> shift) - 1024)
}

/** The lowest value of the slot at `index`. */
function lowestAt(index: number): number {
  if (index < EXACT_BELOW) return index
  const shift = ((index - EXACT_BELOW) >> 10) + 1
  return (((index - EXACT_BELOW) & 1023) + 1024) * 2 ** shift
}

export class LatencyTally {
  /** Counts by slot below {@link INDEXED_BELOW} (an array increment, no hashing); allocated on the first one. */
  private bySlot: Uint32Array | undefined
  /** Counts by slot of longer latencies (rare: a Map is fine). */
  private readonly longer = new Map<number, number>()
  /** The highest slot of `bySlot` counted in since the last drain: a drain walks no further. */
  private topIndex = -1
  /** Latencies counted since the last drain. */
  count = 0
  /** Their exact sum (µs), for the mean, which slots would round. */
  sumMicros = 0

  /**
   * Counts `times` latencies of `micros` (whole microseconds) whose exact sum is `sumMicros` (given
   * when `micros` is a slot's lowest value standing for latencies anywhere in it).
   */
  record(micros: number, times = 1, sumMicros = micros * times): void {
    this.count += times
    this.sumMicros += sumMicros
    if (micros < INDEXED_BELOW) {
      this.bySlot ??= new Uint32Array(INDEXED_SLOTS)
      const bySlot = this.bySlot
      const index = indexOf(micros)
      bySlot[index] = (bySlot[index] as number) + times
      if (index > this.topIndex) this.topIndex = index
    } else {
      const slot = slotOf(micros)
      this.longer.set(slot, (this.longer.get(slot) ?? 0) + times)
    }
  }

  /** Hands each counted value (a slot's lowest above {@link EXACT_BELOW}) with its count to `take`, and empties the tally. */
  drain(take: (micros: number, count: number) => void): void {
    const bySlot = this.bySlot
    if (bySlot !== undefined && this.count > 0) {
      for (let index = 0; index <= this.topIndex; index++) {
        const count = bySlot[index] as number
        if (count === 0) continue
        take(lowestAt(index), count)
        bySlot[index] = 0
      }
    }
    this.topIndex = -1
    for (const [slot, count] of this.longer) take(slot, count)
    this.longer.clear()
    this.count = 0
    this.sumMicros = 0
  }
}
