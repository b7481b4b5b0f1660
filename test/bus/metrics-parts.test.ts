/**
 * The metric building blocks on their own, where the bus's tests reach them only through whole
 * snapshots: the ceiling of reported counts, counters by key, the delivery rate's windows, and the
 * latency histogram's copies, interval readings and bulk tallies at their edges.
 */
import { describe, expect, it } from 'vitest'
import { addCount, CountersByKey, LatencyHistogram, WindowedRate } from '../../src/main/bus/metrics.js'

const CEILING = 2 ** 52

describe('addCount', () => {
  it('adds, holding a sum at the ceiling of reported counts', () => {
    expect(addCount(5, 3)).toBe(8)
    expect(addCount(CEILING - 2, 5)).toBe(CEILING)
  })

  it('never takes back what the bus counted past the ceiling itself', () => {
    expect(addCount(CEILING + 5, 3)).toBe(CEILING + 5)
  })
})

describe('CountersByKey', () => {
  it('keeps each key’s counters apart, however keys alternate', () => {
    const counters = new CountersByKey()
    for (const key of ['RawEvent', 'RawEvent', 'StateChange', 'RawEvent']) counters.of(key).published++
    expect(counters.published()).toEqual({ RawEvent: 3, StateChange: 1 })
  })

  it('hands out a snapshot no reader can change the counters through', () => {
    const counters = new CountersByKey()
    counters.of('RawEvent').delivered = 2
    const snapshot = counters.snapshot()
    ;(snapshot.RawEvent as { delivered: number }).delivered = 99
    expect(counters.snapshot().RawEvent?.delivered).toBe(2)
  })
})

describe('WindowedRate', () => {
  it('gives the rate over the current window until one has completed, and 0 when no time has passed', () => {
    const rate = new WindowedRate(1000, 0)
    rate.record(0, 5)
    expect(rate.perSecond(0)).toBe(0)
    rate.record(100)
    rate.record(200, 2)
    expect(rate.perSecond(500)).toBe(16) // 8 events in half a second
  })

  it('gives the last complete window’s rate once one has, starting the next at the event that ended it', () => {
    const rate = new WindowedRate(1000, 0)
    rate.record(100, 4)
    rate.record(1250, 3) // ends the first window (4 events in 1.25 s) and counts in the second
    expect(rate.perSecond(1500)).toBe(3.2)
    expect(rate.perSecond(2250)).toBe(3) // the second: 3 events in 1 s
  })

  it('reads 0 once a whole window passed with no events', () => {
    const rate = new WindowedRate(1000, 0)
    rate.record(100, 10)
    expect(rate.perSecond(2500)).toBe(0)
    rate.record(2600, 2)
    expect(rate.perSecond(3000)).toBe(0) // the window that completed was empty
    expect(rate.perSecond(3500)).toBe(2)
  })
})

describe('LatencyHistogram at its edges', () => {
  it('becomes exactly the histogram it copies, whatever it held before', () => {
    const source = new LatencyHistogram()
    for (const ms of [0.4, 0.6, 5]) source.record(ms)
    const copy = new LatencyHistogram()
    // Samples both tallied (below 2,048 µs) and in the histogram itself, none of them read yet.
    for (const ms of [0.1, 0.2, 9]) copy.record(ms)
    copy.copyFrom(source)
    expect(copy.summary()).toEqual(source.summary())
    expect(copy.summary()).toMatchObject({ count: 3, meanMs: 2, maxMs: 5 })
  })

  it('reads the interval since a copy with no new samples as empty', () => {
    const histogram = new LatencyHistogram()
    histogram.record(1)
    const earlier = new LatencyHistogram()
    earlier.copyFrom(histogram)
    expect(histogram.summarySince(earlier)).toEqual(new LatencyHistogram().summary())
    expect(histogram.summarySince(earlier)).toMatchObject({ count: 0, meanMs: 0 })
  })

  it('takes tallies larger than a tally slot holds without wrapping', () => {
    const histogram = new LatencyHistogram()
    histogram.recordCounted([100], [2 ** 31], 100 * 2 ** 31)
    histogram.recordCounted([100], [2 ** 31], 100 * 2 ** 31)
    expect(histogram.summary()).toMatchObject({ count: 2 ** 32, p50Ms: 0.1, maxMs: 0.1 })
  })

  it('refuses a tally that would pass the ceiling with what is still tallied counted in', () => {
    const histogram = new LatencyHistogram()
    histogram.record(0.1) // tallied, not yet in the HDR histogram
    histogram.recordCounted([900], [CEILING], 900 * CEILING)
    expect(histogram.summary()).toMatchObject({ count: 1, maxMs: 0.1 })
  })
})
