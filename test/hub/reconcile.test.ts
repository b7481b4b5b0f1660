import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addCounts, unreportedCounts } from '../../src/main/hub/reconcile.js'
import { type DirectCounts, zeroDirectCounts } from '../../src/shared/wire.js'

/** How a copy of a direct channel ended; `overflow` never left the producer (dropped there). */
const fates = ['delivered', 'droppedAfterSending', 'deadLettered', 'adopted', 'overflow'] as const
type Fate = (typeof fates)[number]

/** One copy: how it ended, and when the producer counted it routed and when it counted its end. */
const copy = fc.record({
  fate: fc.constantFrom(...fates),
  routedAt: fc.integer({ min: 0, max: 100 }),
  settledAfter: fc.integer({ min: 0, max: 100 }),
})

/** What the producer counted for `copies` up to its last report at `reportedUntil`. */
function producerReport(
  copies: { fate: Fate; routedAt: number; settledAfter: number }[],
  reportedUntil: number,
) {
  const counts = zeroDirectCounts('s1', 'RawEvent')
  for (const { fate, routedAt, settledAfter } of copies) {
    if (routedAt > reportedUntil) continue
    counts.routed++
    if (fate !== 'overflow') counts.sent++
    const settledAt = fate === 'overflow' ? routedAt : routedAt + settledAfter
    if (settledAt > reportedUntil) continue
    if (fate === 'delivered') counts.delivered++
    if (fate === 'droppedAfterSending' || fate === 'overflow') counts.dropped++
    if (fate === 'droppedAfterSending') counts.sentDropped++
    if (fate === 'deadLettered') counts.deadLettered++
    // An adopted copy's end is the hub's: the producer never counts it.
  }
  return counts
}

describe('reconciling a killed producer’s counts', () => {
  it('makes up exactly what the producer never reported: the accounting holds, deliveries and dead letters are exact', () => {
    fc.assert(
      fc.property(
        fc.array(copy, { maxLength: 60, size: 'max' }),
        fc.integer({ min: -1, max: 200 }),
        (copies, reportedUntil) => {
          const count = (fate: Fate) => copies.filter((c) => c.fate === fate).length
          const reported = producerReport(copies, reportedUntil)
          const seen = {
            sid: 's1',
            type: 'RawEvent',
            arrived: copies.length - count('overflow'),
            delivered: count('delivered'),
            failed: count('droppedAfterSending') + count('deadLettered') + count('adopted'),
            dropped: count('droppedAfterSending'),
            slow: 0,
          }
          // The hub's books: the reports, the hand-backs it adopted, then the made-up counts.
          const books: DirectCounts = zeroDirectCounts('s1', 'RawEvent')
          addCounts(books, reported)
          books.handedBack += count('adopted')
          addCounts(books, unreportedCounts(reported, count('deadLettered'), seen))
          expect(books.routed - books.handedBack).toBe(books.delivered + books.dropped + books.deadLettered)
          expect(books.delivered).toBe(count('delivered'))
          expect(books.deadLettered).toBe(count('deadLettered'))
          expect(books.sent).toBe(seen.arrived)
          expect(books.failed).toBe(seen.failed)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('never takes back what the producer reported when its consumer says less', () => {
    const reported = { ...zeroDirectCounts('s1', 'RawEvent'), routed: 9, sent: 9, delivered: 9 }
    const seen = { sid: 's1', type: 'RawEvent', arrived: 3, delivered: 2, failed: 0, dropped: 0, slow: 0 }
    expect(unreportedCounts(reported, 0, seen)).toEqual(zeroDirectCounts('s1', 'RawEvent'))
  })
})
