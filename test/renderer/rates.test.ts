import { describe, expect, it } from 'vitest'
import {
  chartPoints,
  HISTORY,
  medianSpacing,
  perSecond,
  publishedOf,
  type Sample,
  subscriptionAt,
  withSample,
} from '../../src/renderer/inspector/feeds.js'
import type { BusMetrics, MetricsPoint } from '../../src/shared/metrics-snapshot.js'

/** Just what a rate reads of a snapshot: when it was taken and the counters. */
const snapshot = (ms: number, published: number, types: Record<string, number> = {}) =>
  ({
    collectedAt: new Date(ms),
    messagesPublished: published,
    types: Object.fromEntries(Object.entries(types).map(([type, n]) => [type, { published: n }])),
  }) as unknown as BusMetrics

const total = (m: BusMetrics) => m.messagesPublished
const rawEvents = (m: BusMetrics) => m.types.RawEvent?.published

describe('a counter’s rate between two snapshots', () => {
  it('is the difference over the seconds between them', () => {
    expect(perSecond(snapshot(1_000, 100), snapshot(3_000, 300), total)).toBe(100)
  })

  it('is 0 without an earlier snapshot, or for a type the earlier one had not seen', () => {
    expect(perSecond(undefined, snapshot(1_000, 100), total)).toBe(0)
    expect(perSecond(snapshot(1_000, 0), snapshot(2_000, 50, { RawEvent: 50 }), rawEvents)).toBe(0)
    expect(
      perSecond(snapshot(1_000, 0, { RawEvent: 10 }), snapshot(2_000, 50, { RawEvent: 50 }), rawEvents),
    ).toBe(40)
  })

  it('is never negative, nor a division by no time', () => {
    expect(perSecond(snapshot(1_000, 500), snapshot(2_000, 10), total)).toBe(0)
    expect(perSecond(snapshot(1_000, 0), snapshot(1_000, 10), total)).toBe(0)
  })
})

describe('a type’s publishes at a chart point', () => {
  it('are a snapshot’s type counter, or the hub’s point’s count; 0 for a type either lacks, unknown at a point without counts by type', () => {
    expect(publishedOf(snapshot(1_000, 9, { RawEvent: 7 }), 'RawEvent')).toBe(7)
    // A hub's point has no `types`: its counts are by type already.
    const point = {
      collectedAt: new Date(1_000),
      publishedByType: { RawEvent: 5 },
    } as unknown as MetricsPoint
    expect(publishedOf(point, 'RawEvent')).toBe(5)
    // Both list every type counted so far: one not listed had no publishes yet.
    expect(publishedOf(point, 'StateChange')).toBe(0)
    expect(publishedOf(snapshot(1_000, 9), 'RawEvent')).toBe(0)
    const pointWithoutTypes = { collectedAt: new Date(1_000) } as unknown as MetricsPoint
    expect(publishedOf(pointWithoutTypes, 'RawEvent')).toBeUndefined()
  })
})

describe('the charts’ points', () => {
  const received = (ms: number, published: number): Sample => ({
    time: ms / 1000,
    metrics: snapshot(ms, published),
  })

  it('start with the hub’s points from before the first snapshot received, which gives its rates', () => {
    const past = [snapshot(1_000, 0), snapshot(2_000, 100), snapshot(3_000, 300)]
    // The hub's last point and the first snapshot received may be one snapshot: it is charted once.
    const points = chartPoints(past, [received(3_000, 300), received(4_000, 600)])
    expect(points.map((point) => point.time)).toEqual([1, 2, 3, 4])
    expect(points.map((point) => point.rates.published)).toEqual([0, 100, 200, 300])
  })

  it('fill the time a window was away from the hub with the hub’s points, each charted once', () => {
    // The hub kept a point a second; the window received snapshots at 1–3 s and, reconnected, at
    // 8–9 s, each a few ms after the point of its tick.
    const past = Array.from({ length: 9 }, (_, n) => snapshot((n + 1) * 1_000, (n + 1) * 10))
    const samples = [1, 2, 3, 8, 9].map((second) => received(second * 1_000 + 4, second * 10))
    const points = chartPoints(past, samples)
    expect(points.map((point) => Math.round(point.time))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Rates from one point to the next: 10/s throughout, not 50 over five seconds read as one.
    expect(points.slice(1).map((point) => Math.round(point.rates.published))).toEqual([
      10, 10, 10, 10, 10, 10, 10, 10,
    ])
    // The snapshots themselves are kept where they came: the whole ones, not the hub's points.
    expect(points.filter((point) => point.time % 1 !== 0).map((point) => Math.round(point.time))).toEqual([
      1, 2, 3, 8, 9,
    ])
  })

  it('are the snapshots received alone without the hub’s, and the last two minutes of all', () => {
    expect(chartPoints([], [received(1_000, 5), received(2_000, 15)]).map((p) => p.rates.published)).toEqual([
      0, 10,
    ])
    const past = Array.from({ length: HISTORY }, (_, n) => snapshot(n * 1_000, n))
    const points = chartPoints(past, [received(HISTORY * 1_000, HISTORY)])
    expect(points).toHaveLength(HISTORY)
    expect(points.at(-1)?.rates.published).toBe(1)
    expect(points[0]?.time).toBe(1)
  })

  it('take the hub’s interval as the median spacing of its points, which a gap does not move', () => {
    expect(medianSpacing([0, 1_000, 2_000, 7_000, 8_000].map((ms) => snapshot(ms, 0)))).toBe(1_000)
    expect(medianSpacing([snapshot(0, 0)])).toBeUndefined()
  })

  it('count a hub’s point as received when a snapshot came less than half an interval from it', () => {
    const past = [1_000, 2_000, 3_000, 4_000].map((ms) => snapshot(ms, 0))
    // A snapshot 499 ms after the 3 s point is that point's; one 500 ms after it is neither's.
    const times = (at: number) => chartPoints(past, [received(at, 0)]).map((point) => point.time)
    expect(times(3_499)).toEqual([1, 2, 3.499, 4])
    expect(times(3_500)).toEqual([1, 2, 3, 3.5, 4])
  })

  it('with one hub point alone, chart it once, the snapshot taken at its time', () => {
    expect(chartPoints([snapshot(3_000, 30)], [received(3_000, 30)]).map((point) => point.time)).toEqual([3])
  })
})

describe('one subscription at the charts’ points', () => {
  const latency = { p50Ms: 1, p95Ms: 2, p99Ms: 3, p999Ms: 3, maxMs: 3, meanMs: 1, count: 4 }
  const hubPoint = (ms: number, busySubscriptions?: MetricsPoint['busySubscriptions']) =>
    ({ ...snapshot(ms, 0), busySubscriptions }) as MetricsPoint
  const received = (ms: number, queueDepth: number): Sample => {
    const metrics = {
      ...snapshot(ms, 0),
      subscriptions: [{ id: 'sub', queueDepth, inFlight: 1, recentLatency: latency }],
    } as unknown as BusMetrics
    return { time: ms / 1000, metrics }
  }

  it('is its queue at the hub’s points, none where it was not busy, and all of it at each snapshot', () => {
    const past = [
      hubPoint(1_000, [{ id: 'sub', queueDepth: 7, inFlight: 2 }]),
      hubPoint(2_000, [{ id: 'other', queueDepth: 5, inFlight: 0 }]),
    ]
    const points = chartPoints(past, [received(3_000, 4)])
    expect(points.map((point) => subscriptionAt(point.metrics, 'sub'))).toEqual([
      { id: 'sub', queueDepth: 7, inFlight: 2 },
      { queueDepth: 0, inFlight: 0 },
      { id: 'sub', queueDepth: 4, inFlight: 1, recentLatency: latency },
    ])
  })

  it('is unknown at a snapshot without it, and at a point from a hub that lists no busy subscriptions', () => {
    const points = chartPoints([hubPoint(1_000)], [received(2_000, 0)])
    expect(points.map((point) => subscriptionAt(point.metrics, 'gone'))).toEqual([undefined, undefined])
  })
})

describe('the snapshots a window keeps', () => {
  it('add each one received last, in seconds, and keep the last two minutes of them', () => {
    let history: Sample[] = []
    for (let second = 1; second <= HISTORY + 5; second++)
      history = withSample(history, snapshot(second * 1_000, second))
    expect(history).toHaveLength(HISTORY)
    expect(history[0]?.time).toBe(6)
    expect(history.at(-1)).toEqual({
      time: HISTORY + 5,
      metrics: snapshot((HISTORY + 5) * 1_000, HISTORY + 5),
    })
  })
})
