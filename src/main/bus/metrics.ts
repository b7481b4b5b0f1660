/**
 * Metric building blocks: counters, an HDR latency histogram (microsecond resolution) and a
 * windowed delivery rate. None of them starts a timer, so the bus stays quiet under fake timers.
 */
// Not the package's index: it loads the WebAssembly build with the two libraries that unpack it
// (pako, base64-js) whether or not it is used, ~8 MB of the hub process's RSS. The bus needs only
// a JavaScript histogram, which this module builds as the index's `build` would.
import type JsHistogram from 'hdr-histogram-js/dist/JsHistogram.js'
import { constructorFromBucketSize } from 'hdr-histogram-js/dist/JsHistogramFactory.js'
import { EXACT_BELOW, LatencyTally, microsOf } from '../../shared/latency-tally.js'
import type { CopyCounters, Counters, LatencySummary } from '../../shared/metrics-snapshot.js'

/**
 * Where counts reported by endpoints stop: half the safe integers, so that the bus's own counting
 * (one at a time, 142 years at a million a second to the other half) never leaves them either.
 */
const REPORTED_COUNT_CEILING = 2 ** 52

/**
 * `total + more`, held at {@link REPORTED_COUNT_CEILING} (or at `total`, if the bus's own counting
 * took it beyond). For counts a direct channel's endpoints report, added as they claim them: a
 * lying endpoint may skew its own channel's numbers, but must not push a counter past the integers
 * a metrics snapshot holds exactly.
 */
export function addCount(total: number, more: number): number {
  return Math.min(total + more, Math.max(total, REPORTED_COUNT_CEILING))
}

/** What a subscription counts of the counters, all 0: it routes messages, it does not publish them. */
export function newCopyCounters(): CopyCounters {
  return { delivered: 0, failed: 0, dropped: 0, coalesced: 0, retried: 0, deadLettered: 0, queueFull: 0 }
}

export function newCounters(): Counters {
  return { published: 0, unrouted: 0, ...newCopyCounters() }
}

/**
 * Counters by key (a message type, a module), created on first use. The last key asked for is
 * remembered: a run of messages mostly shares one type and one source, and comparing a string with
 * the one before is cheaper than hashing it for a map (three lookups a message in process).
 */
export class CountersByKey {
  private readonly byKey = new Map<string, Counters>()
  private lastKey: string | undefined
  private last: Counters = newCounters()

  of(key: string): Counters {
    if (key === this.lastKey) return this.last
    let counters = this.byKey.get(key)
    if (counters === undefined) {
      counters = newCounters()
      this.byKey.set(key, counters)
    }
    this.lastKey = key
    this.last = counters
    return counters
  }

  /** A copy of every key's counters. */
  snapshot(): Record<string, Counters> {
    return Object.fromEntries([...this.byKey].map(([key, counters]) => [key, { ...counters }]))
  }

  /** Every key's `published` count alone. */
  published(): Record<string, number> {
    return Object.fromEntries([...this.byKey].map(([key, counters]) => [key, counters.published]))
  }
}

const MICROS_PER_MS = 1000

/** A tally is handed over before a Uint32 slot could overflow, whatever the readers do. */
const FLUSH_AT = 2 ** 31

const Float64Histogram = constructorFromBucketSize(64)

/** What the index's `build` makes with 64-bit buckets: from 1 µs, growing as values come, 3 digits. */
function newHistogram(): JsHistogram {
  const histogram = new Float64Histogram(1, 2, 3)
  histogram.autoResize = true
  return histogram
}

/** The latency summary of no deliveries measured: every figure 0. */
export const EMPTY_SUMMARY: LatencySummary = Object.freeze({
  p50Ms: 0,
  p95Ms: 0,
  p99Ms: 0,
  p999Ms: 0,
  maxMs: 0,
  meanMs: 0,
  count: 0,
})

/** The percentiles a summary reports, ascending. */
const SUMMARY_PERCENTILES = [50, 95, 99, 99.9] as const

/** The library's `ulp`, written out: its module's default export does not survive every loader. */
const ulp = (x: number) => 2 ** (Math.floor(Math.log2(x)) - 52)

/** The highest value of slot `index`: what the library reports for a percentile that falls in it. */
const slotTop = (h: JsHistogram, index: number) => h.highestEquivalentValue(h.valueFromIndex(index))

/**
 * The summary of `total` samples summing to `sumMicros`: `h`'s counts in slots 0 … length − 1,
 * less those of `before` (an earlier copy of `h`) when given, in one walk. Each percentile is the
 * library's `getValueAtPercentile` (its count rounded up as there), which walks the counts from
 * the start for each: four walks a summary made most of the time of a thousand subscriptions'
 * snapshot. The max is `h`'s own where the highest slot holding samples holds it, else that slot's
 * top. Frozen: a summary is kept and handed out again while nothing changes.
 */
function summarize(
  h: JsHistogram,
  length: number,
  before: JsHistogram | undefined,
  { total, sumMicros }: { total: number; sumMicros: number },
): LatencySummary {
  const beforeLength = before?.countsArrayLength ?? 0
  const needed = SUMMARY_PERCENTILES.map((percentile) => {
    const fpCount = (percentile / 100) * total
    return Math.max(Math.ceil(fpCount - ulp(fpCount)), 1)
  })
  const values: number[] = []
  let seen = 0
  let topIndex = 0
  for (let index = 0; index < length; index++) {
    const count =
      h.getCountAtIndex(index) - (index < beforeLength ? (before as JsHistogram).getCountAtIndex(index) : 0)
    if (count === 0) continue
    seen += count
    topIndex = index
    while (values.length < needed.length && seen >= (needed[values.length] as number))
      values.push(slotTop(h, index))
  }
  const ms = (micros: number | undefined) => (micros ?? 0) / MICROS_PER_MS
  return Object.freeze({
    p50Ms: ms(values[0]),
    p95Ms: ms(values[1]),
    p99Ms: ms(values[2]),
    p999Ms: ms(values[3]),
    maxMs: ms(topIndex === h.countsArrayIndex(h.maxValue) ? h.maxValue : slotTop(h, topIndex)),
    meanMs: ms(sumMicros / total),
    // Held where counters are: the bus's total adds up every subscription's.
    count: Math.min(total, REPORTED_COUNT_CEILING),
  })
}

/**
 * Delivery latency in an HDR histogram of microseconds (3 significant digits), with the exact sum
 * of its samples beside it: the histogram's own `mean` walks every recorded value with an iterator,
 * which made a metrics snapshot of ten subscriptions take ~25 ms; the sum makes the mean free.
 * Latencies below 2,048 µs, where the histogram has one slot per value, are tallied first and handed
 * to it in bulk before any reading: it ends up exactly as if each had been recorded at once, while
 * most deliveries pay an array increment instead of its ~70 ns of logarithms per value.
 */
export class LatencyHistogram {
  /** Counts in doubles: exact to 2^53, where 32-bit ones would wrap (a channel reports in bulk). */
  private histogram: JsHistogram = newHistogram()
  /** The sum of the samples in `histogram` (µs); `pending` keeps its own. */
  private sumMicros = 0
  private readonly pending = new LatencyTally()
  /** The last summary, true while the count it was made at holds: every change but `copyFrom` adds samples. */
  private cached: { count: number; summary: LatencySummary } | undefined

  /** Records one latency given in milliseconds. */
  record(latencyMs: number): void {
    const micros = microsOf(latencyMs)
    if (micros >= EXACT_BELOW) {
      this.sumMicros += micros
      this.histogram.recordValue(micros)
      return
    }
    this.pending.record(micros)
    if (this.pending.count >= FLUSH_AT) this.settled()
  }

  /**
   * Records latencies counted elsewhere (a direct channel's): `counts[i]` of `micros[i]` each (a
   * slot's lowest value standing for any in it), whose exact sum is `sumMicros`. Latencies that
   * would take the count past {@link REPORTED_COUNT_CEILING} are not recorded, as counters stop there.
   */
  recordCounted(micros: readonly number[], counts: readonly number[], sumMicros: number): void {
    let total = 0
    for (const count of counts) total += count
    if (this.histogram.totalCount + this.pending.count + total > REPORTED_COUNT_CEILING) return
    for (let i = 0; i < micros.length; i++) {
      const value = micros[i] as number
      const count = counts[i] as number
      if (value >= EXACT_BELOW) this.histogram.recordValueWithCount(value, count)
      else if (this.pending.count + count >= FLUSH_AT) this.settled().recordValueWithCount(value, count)
      else this.pending.record(value, count, 0)
    }
    this.sumMicros += sumMicros
  }

  /** Adds every sample of `other` to this histogram. */
  add(other: LatencyHistogram): void {
    // Most of a thousand subscriptions see nothing: their histograms are not walked for it.
    if (other.count === 0) return
    this.settled().add(other.settled())
    this.sumMicros += other.sumMicros
  }

  /** Makes this histogram hold exactly the samples of `other`, in the buffers it has. */
  copyFrom(other: LatencyHistogram): void {
    // Into another layout the library adds slot by slot, which rounds the max down: start afresh.
    if (this.histogram.bucketCount === other.settled().bucketCount) this.histogram.reset()
    else this.histogram = newHistogram()
    this.sumMicros = 0
    this.pending.drain(() => {})
    this.cached = undefined // the one change that does not only add samples
    this.add(other)
  }

  get count(): number {
    return this.settled().totalCount
  }

  /**
   * p50, p95, p99, p99.9, max, mean and count. Kept until a sample comes: a quiet subscription's
   * summary costs nothing the next time.
   */
  summary(): LatencySummary {
    const h = this.settled()
    const { totalCount: total } = h
    if (this.cached?.count === total) return this.cached.summary
    const summary =
      total === 0
        ? EMPTY_SUMMARY
        : // No slot above the max's holds a sample: the walk ends there.
          summarize(h, h.countsArrayIndex(h.maxValue) + 1, undefined, {
            total,
            sumMicros: this.sumMicros,
          })
    this.cached = { count: total, summary }
    return summary
  }

  /**
   * The summary of the samples gained since `earlier`, a copy of this histogram taken before, read
   * from the difference of the two without building its histogram. Its max is exact where the new
   * samples hold the histogram's max, else the top of the highest slot they reach (exact below
   * 2,048 µs, within 0.1 % above).
   */
  summarySince(earlier: LatencyHistogram): LatencySummary {
    const h = this.settled()
    const before = earlier.settled()
    const total = h.totalCount - before.totalCount
    if (total <= 0) return EMPTY_SUMMARY
    return summarize(h, h.countsArrayLength, before, { total, sumMicros: this.sumMicros - earlier.sumMicros })
  }

  /** Frees the histogram's buffers (wasm-backed histograms need it; harmless otherwise). */
  destroy(): void {
    this.histogram.destroy()
  }

  /** The HDR histogram with every tallied sample in it. */
  private settled(): JsHistogram {
    if (this.pending.count === 0) return this.histogram
    this.sumMicros += this.pending.sumMicros
    this.pending.drain((micros, count) => this.histogram.recordValueWithCount(micros, count))
    return this.histogram
  }
}

/**
 * Percentiles of the samples recorded in the latest metrics interval: the cumulative histogram
 * minus the copy taken when that interval began. This is what "latency over time" plots. An
 * interval ends at the first reading at least (nearly) `intervalMs` after it began, and readings
 * before that get the last complete interval again: so every reader sees the same intervals, and a
 * second inspector, or a test polling `metrics()`, does not cut another's into slivers. Until an
 * interval has completed, a reading covers the samples since the start.
 */
export class IntervalLatency {
  private previous = new LatencyHistogram()
  private intervalStart: number
  private lastInterval: LatencySummary | undefined

  constructor(
    private readonly intervalMs: number,
    now: number,
  ) {
    this.intervalStart = now
  }

  /** The latest complete interval's summary, ending it first if it has lasted long enough at `now`. */
  since(cumulative: LatencyHistogram, now: number): LatencySummary {
    // A reader on a timer of `intervalMs` may come a little early: a tenth of it is slack enough.
    const ended = now - this.intervalStart >= this.intervalMs * 0.9
    if (!ended && this.lastInterval !== undefined) return this.lastInterval
    // A cumulative histogram only grows: the same count means no sample came in the interval.
    const quiet = cumulative.count === this.previous.count
    const summary = quiet ? EMPTY_SUMMARY : cumulative.summarySince(this.previous)
    if (ended) {
      if (!quiet) this.previous.copyFrom(cumulative)
      this.intervalStart = now
      this.lastInterval = summary
    }
    return summary
  }

  destroy(): void {
    this.previous.destroy()
  }
}

/**
 * Events per second over the last complete window. Counting is one comparison and one increment;
 * the window rolls over lazily when an event or a reading comes after its end.
 */
export class WindowedRate {
  private windowStart: number
  private currentCount = 0
  private lastCompleteRate = 0
  private rolled = false

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.windowStart = now
  }

  /** Counts `count` events at `now` (a direct channel reports its deliveries in bulk). */
  record(now: number, count = 1): void {
    if (now - this.windowStart >= this.windowMs) this.roll(now)
    this.currentCount += count
  }

  /**
   * The rate over the last complete window (over the current one until a window has completed),
   * or 0 once a whole window has passed with no events.
   */
  perSecond(now: number): number {
    if (now - this.windowStart >= this.windowMs) this.roll(now)
    if (this.rolled) return this.lastCompleteRate
    const elapsed = now - this.windowStart
    return elapsed > 0 ? (this.currentCount * 1000) / elapsed : 0
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart
    // More than one window passed: the most recent complete window was empty.
    this.lastCompleteRate = elapsed < 2 * this.windowMs ? (this.currentCount * 1000) / elapsed : 0
    this.windowStart = now
    this.currentCount = 0
    this.rolled = true
  }
}
