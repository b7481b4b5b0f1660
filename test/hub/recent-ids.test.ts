import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecentIds } from '../../src/main/hub/recent-ids.js'

describe('RecentIds', () => {
  it('remembers exactly the most recent distinct ids, at most its capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j')),
        (capacity, added) => {
          const ids = new RecentIds(capacity)
          for (const id of added) ids.add(id)
          // The model: the last `capacity` distinct ids, by their latest addition.
          const latest: string[] = [...new Set([...added].reverse())].slice(0, capacity)
          expect(ids.size).toBe(latest.length)
          for (const id of 'abcdefghij') expect(ids.has(id)).toBe(latest.includes(id))
        },
      ),
    )
  })
})
