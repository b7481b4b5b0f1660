/**
 * The latency histogram's mean is kept as an exact running sum (the HDR histogram's own mean walks
 * every recorded value); it must stay exact through copies, sums and interval readings, and its
 * percentiles, read in one walk, must be the library's own.
 */
import fc from 'fast-check'
import { build } from 'hdr-histogram-js'
import { describe, expect, it } from 'vitest'
import { IntervalLatency, LatencyHistogram } from '../../src/main/bus/metrics.js'
import { LatencyTally, microsOf } from '../../src/shared/latency-tally.js'

const latencyMs = fc.double({ min: 0, max: 60_000, noNaN: true })
const micros = (ms: number) => (ms > 0 ? Math.round(ms * 1000) : 0)
const meanMs = (values: number[]) => values.reduce((sum, ms) => sum + micros(ms), 0) / values.length / 1000

function histogramOf(values: number[]): LatencyHistogram {
  const histogram = new LatencyHistogram()
  for (const ms of values) histogram.record(ms)
  return histogram
}

describe('LatencyHistogram', () => {
  it('gives the exact mean of what it recorded, also after copy and add', () => {
    fc.assert(
      fc.property(fc.array(latencyMs, { minLength: 1 }), fc.array(latencyMs), (first, second) => {
        const histogram = histogramOf(first)
        expect(histogram.summary().meanMs).toBeCloseTo(meanMs(first), 6)
        const both = new LatencyHistogram()
        both.copyFrom(histogram)
        both.add(histogramOf(second))
        expect(both.summary().meanMs).toBeCloseTo(meanMs([...first, ...second]), 6)
        expect(both.summary().count).toBe(first.length + second.length)
      }),
    )
  })

  it('holds exactly what an HDR histogram fed every sample at once holds, however reads interleave', () => {
    // Small samples are tallied and handed to the HDR histogram in bulk: no reading may tell.
    const sample = fc.oneof(fc.double({ min: 0, max: 2.1, noNaN: true }), latencyMs)
    fc.assert(
      fc.property(fc.array(fc.array(sample), { minLength: 1, maxLength: 4 }), (rounds) => {
        const histogram = new LatencyHistogram()
        const reference = build({ numberOfSignificantValueDigits: 3 })
        for (const round of rounds) {
          for (const ms of round) {
            histogram.record(ms)
            reference.recordValue(micros(ms))
          }
          const summary = histogram.summary()
          expect(summary.count).toBe(reference.totalCount)
          if (reference.totalCount === 0) continue
          expect(summary.maxMs).toBe(reference.maxValue / 1000)
          for (const [percentile, key] of [
            [50, 'p50Ms'],
            [95, 'p95Ms'],
            [99, 'p99Ms'],
            [99.9, 'p999Ms'],
          ] as const) {
            expect(summary[key]).toBe(reference.getValueAtPercentile(percentile) / 1000)
          }
        }
        const copy = new LatencyHistogram()
        copy.record(40) // gone once it copies
        copy.summary()
        copy.copyFrom(histogram)
        histogram.record(0.5)
        expect(copy.count).toBe(reference.totalCount)
        if (reference.totalCount > 0) expect(copy.summary().maxMs).toBe(reference.maxValue / 1000)
      }),
    )
  })

  it('reads a tally sent from elsewhere as the same latencies recorded one by one', () => {
    // A direct channel's producer tallies its deliveries' latencies and reports the tally.
    fc.assert(
      fc.property(fc.array(fc.array(latencyMs), { minLength: 1, maxLength: 3 }), (reports) => {
        const received = new LatencyHistogram()
        const direct = new LatencyHistogram()
        for (const report of reports) {
          const tally = new LatencyTally()
          for (const ms of report) {
            tally.record(microsOf(ms))
            direct.record(ms)
          }
          const us: number[] = []
          const n: number[] = []
          const sum = tally.sumMicros
          tally.drain((value, count) => {
            us.push(value)
            n.push(count)
          })
          expect(tally.count).toBe(0)
          received.recordCounted(us, n, sum)
        }
        const [got, want] = [received.summary(), direct.summary()]
        // Slots keep their lowest value: the maximum reads within the histogram's 3 digits.
        expect(got.maxMs).toBeLessThanOrEqual(want.maxMs)
        expect(got.maxMs).toBeGreaterThanOrEqual(want.maxMs * 0.999)
        expect({ ...got, maxMs: 0 }).toEqual({ ...want, maxMs: 0, meanMs: expect.closeTo(want.meanMs, 6) })
      }),
    )
  })

  it('records no tally that would take its count past the counters’ ceiling', () => {
    const histogram = new LatencyHistogram()
    histogram.recordCounted([100], [2 ** 52], 100 * 2 ** 52)
    histogram.recordCounted([900], [1], 900)
    histogram.record(0.3)
    expect(histogram.summary()).toMatchObject({ count: 2 ** 52, p50Ms: 0.1, maxMs: 0.3 })
  })

  it('reads each interval’s own mean', () => {
    fc.assert(
      fc.property(
        fc.array(latencyMs, { minLength: 1 }),
        fc.array(latencyMs, { minLength: 1 }),
        (earlier, later) => {
          const cumulative = new LatencyHistogram()
          const interval = new IntervalLatency(1000, 0)
          for (const ms of earlier) cumulative.record(ms)
          expect(interval.since(cumulative, 1000).meanMs).toBeCloseTo(meanMs(earlier), 6)
          for (const ms of later) cumulative.record(ms)
          const reading = interval.since(cumulative, 2000)
          expect(reading.meanMs).toBeCloseTo(meanMs(later), 6)
          expect(reading.count).toBe(later.length)
          expect(interval.since(cumulative, 3000)).toMatchObject({ count: 0, meanMs: 0 })
        },
      ),
    )
  })

  it('reads an interval as the histogram of its samples alone would, without building it', () => {
    const sample = fc.oneof(fc.double({ min: 0, max: 2.1, noNaN: true }), latencyMs)
    fc.assert(
      fc.property(fc.array(sample), fc.array(sample, { minLength: 1 }), (earlier, later) => {
        const cumulative = histogramOf(earlier)
        const start = new LatencyHistogram()
        start.copyFrom(cumulative)
        for (const ms of later) cumulative.record(ms)
        const reading = cumulative.summarySince(start)
        const alone = histogramOf(later).summary()
        const { maxMs, meanMs: mean, ...exact } = alone
        expect(reading).toMatchObject(exact) // count and every percentile
        expect(reading.meanMs).toBeCloseTo(mean, 6)
        // The top of the max's slot, unless the interval holds the histogram's own max.
        expect(reading.maxMs).toBeGreaterThanOrEqual(maxMs)
        expect(reading.maxMs).toBeLessThanOrEqual(maxMs * 1.001 + 0.001)
      }),
    )
  })

  it('gives every reader within an interval the same, last complete interval', () => {
    const cumulative = new LatencyHistogram()
    const interval = new IntervalLatency(1000, 0)
    cumulative.record(5)
    // Before an interval has completed: what came since the start, read afresh each time.
    expect(interval.since(cumulative, 300).count).toBe(1)
    cumulative.record(7)
    expect(interval.since(cumulative, 600)).toMatchObject({ count: 2, maxMs: 7 })
    expect(interval.since(cumulative, 1000)).toMatchObject({ count: 2, maxMs: 7 }) // the first ends
    cumulative.record(1)
    // A second reader half an interval later, or a poller, gets that interval again, not a sliver.
    expect(interval.since(cumulative, 1500)).toMatchObject({ count: 2, maxMs: 7 })
    expect(interval.since(cumulative, 1550)).toMatchObject({ count: 2, maxMs: 7 })
    cumulative.record(2)
    // A reader on a one-interval timer that comes slightly early still ends the interval.
    expect(interval.since(cumulative, 1950)).toMatchObject({ count: 2, maxMs: 2 })
    expect(interval.since(cumulative, 2500)).toMatchObject({ count: 2, maxMs: 2 })
  })
})
