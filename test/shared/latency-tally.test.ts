/**
 * A latency tally counts values by the slot an HDR histogram of 3 significant digits keeps them in,
 * so the hub's histogram reads a tallied report exactly as it would read the values themselves.
 */
import fc from 'fast-check'
import { build } from 'hdr-histogram-js'
import { describe, expect, it } from 'vitest'
import {
  EXACT_BELOW,
  LatencyTally,
  MAX_LATENCY_MICROS,
  MAX_LATENCY_SLOTS,
  microsOf,
  slotOf,
  slotWidth,
} from '../../src/shared/latency-tally.js'

/** The hub's kind of histogram (its type leaves out the slot arithmetic this test compares with). */
const reference = build({ numberOfSignificantValueDigits: 3 }) as unknown as {
  lowestEquivalentValue(value: number): number
  sizeOfEquivalentValueRange(value: number): number
}
/** Microseconds spread over every order of magnitude a tally keeps. */
const micros = fc
  .tuple(fc.integer({ min: 0, max: 37 }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([bits, fraction]) => Math.min(Math.floor(2 ** bits * fraction), MAX_LATENCY_MICROS))

function drained(tally: LatencyTally): Map<number, number> {
  const counts = new Map<number, number>()
  tally.drain((value, count) => counts.set(value, (counts.get(value) ?? 0) + count))
  return counts
}

describe('LatencyTally', () => {
  it('counts each value under its HDR slot’s lowest value, with the exact sum, and empties on drain, for good', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(micros, fc.integer({ min: 1, max: 5 })), { maxLength: 200, size: 'max' }),
        (values) => {
          const tally = new LatencyTally()
          const expected = new Map<number, number>()
          let sum = 0
          for (const [value, times] of values) {
            tally.record(value, times)
            const slot = reference.lowestEquivalentValue(value)
            expect(slotOf(value)).toBe(slot)
            expect(slotWidth(value)).toBe(reference.sizeOfEquivalentValueRange(value))
            expected.set(slot, (expected.get(slot) ?? 0) + times)
            sum += value * times
          }
          expect(tally.count).toBe(values.reduce((n, [, times]) => n + times, 0))
          expect(tally.sumMicros).toBe(sum)
          expect(drained(tally)).toEqual(expected)
          expect([tally.count, tally.sumMicros, drained(tally).size]).toEqual([0, 0, 0])
          // Counted afresh: a value above every slot used so far is drained alone.
          tally.record(2 ** 30)
          expect(drained(tally)).toEqual(new Map([[2 ** 30, 1]]))
        },
      ),
    )
  })

  it('needs no more slots than a report may carry, up to the longest latency it keeps', () => {
    const tally = new LatencyTally()
    for (let value = 0; value <= MAX_LATENCY_MICROS; value = Math.max(value + 1, Math.floor(value * 1.0004)))
      tally.record(value)
    tally.record(MAX_LATENCY_MICROS)
    expect(drained(tally).size).toBeLessThanOrEqual(MAX_LATENCY_SLOTS)
  })

  it('counts values at each edge of its exact, indexed and mapped ranges under their HDR slots', () => {
    // Random values almost never land on an edge itself: 2,048 (the first slot two wide) and 2^31
    // (the first counted in the Map rather than the array).
    const edges = [0, 1, EXACT_BELOW - 1, EXACT_BELOW, EXACT_BELOW + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1]
    for (const value of [...edges, MAX_LATENCY_MICROS]) {
      const tally = new LatencyTally()
      tally.record(value, 3)
      expect(slotWidth(value)).toBe(reference.sizeOfEquivalentValueRange(value))
      expect(drained(tally)).toEqual(new Map([[reference.lowestEquivalentValue(value), 3]]))
    }
  })

  it('takes milliseconds as whole microseconds, rounded, never below 0 nor above the longest it keeps', () => {
    expect([0.2, 0.0004, 0.0005, 1.2345].map(microsOf)).toEqual([200, 0, 1, 1235])
    // A clock that stepped back, or no reading at all, counts as no wait.
    expect([0, -0.2, -5, Number.NaN].map(microsOf)).toEqual([0, 0, 0, 0])
    expect(microsOf(MAX_LATENCY_MICROS)).toBe(MAX_LATENCY_MICROS) // 2^37 ms: far past the cap
    expect(microsOf(Number.POSITIVE_INFINITY)).toBe(MAX_LATENCY_MICROS)
  })
})
