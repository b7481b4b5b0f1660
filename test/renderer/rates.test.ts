import { describe, expect, it } from 'vitest'
import { perSecond } from '../../src/renderer/inspector/feeds.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'

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
