/**
 * Metric building blocks: counters, an HDR latency histogram (microsecond resolution) and a
 * windowed delivery rate. None of them starts a timer, so the bus stays quiet under fake timers.
 */
import type { Histogram } from 'hdr-histogram-js'
// Not the package's index: it loads the WebAssembly build with the two libraries that unpack it
// (pako, base64-js) whether or not it is used, ~8 MB of the hub process's RSS. The bus needs only
// a JavaScript histogram, which this module builds as the index's `build` would.
import { constructorFromBucketSize } from 'hdr-histogram-js/dist/JsHistogramFactory.js'
import { EXACT_BELOW, LatencyTally, microsOf } from '../../shared/latency-tally.js'
import type { Counters, LatencySummary } from '../../shared/metrics-snapshot.js'

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
export function newCopyCounters(): Omit<Counters, 'published'> {
  return { delivered: 0, failed: 0, dropped: 0, coalesced: 0, retried: 0, deadLettered: 0, queueFull: 0 }
}

export function newCounters(): Counters {
  return { published: 0, ...newCopyCounters() }
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
}

const MICROS_PER_MS = 1000

/** A tally is handed over before a Uint32 slot could overflow, whatever the readers do. */
const FLUSH_AT = 2 ** 31

const Float64Histogram = constructorFromBucketSize(64)

/** What the index's `build` makes with 64-bit buckets: from 1 µs, growing as values come, 3 digits. */
function newHistogram(): Histogram {
  const histogram = new Float64Histogram(1, 2, 3)
  histogram.autoResize = true
  return histogram
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
  private readonly histogram: Histogram = newHistogram()
  /** The sum of the samples in `histogram` (µs); `pending` keeps its own. */
  private sumMicros = 0
  private readonly pending = new LatencyTally()

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
    this.settled().add(other.settled())
    this.sumMicros += other.sumMicros
  }

  /** Removes the samples of `earlier` (a previous copy of this histogram's samples). */
  subtract(earlier: LatencyHistogram): void {
    this.settled().subtract(earlier.settled())
    this.sumMicros -= earlier.sumMicros
  }

  copy(): LatencyHistogram {
    const copy = new LatencyHistogram()
    copy.add(this)
    return copy
  }

  get count(): number {
    return this.settled().totalCount
  }

  summary(): LatencySummary {
    const h = this.settled()
    if (h.totalCount === 0) return { p50Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0, count: 0 }
    const ms = (micros: number) => micros / MICROS_PER_MS
    return {
      p50Ms: ms(h.getValueAtPercentile(50)),
      p95Ms: ms(h.getValueAtPercentile(95)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      p999Ms: ms(h.getValueAtPercentile(99.9)),
      maxMs: ms(h.maxValue),
      meanMs: ms(this.sumMicros / h.totalCount),
      // Held where counters are: the bus's total adds up every subscription's.
      count: Math.min(h.totalCount, REPORTED_COUNT_CEILING),
    }
  }

  /** Frees the histogram's buffers (wasm-backed histograms need it; harmless otherwise). */
  destroy(): void {
    this.histogram.destroy()
  }

  /** The HDR histogram with every tallied sample in it. */
  private settled(): Histogram {
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
    const interval = cumulative.copy()
    interval.subtract(this.previous)
    const summary = interval.summary()
    interval.destroy()
    if (ended) {
      this.previous.destroy()
      this.previous = cumulative.copy()
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
