import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InFlight } from '../../src/shared/in-flight.js'

describe('InFlight', () => {
  it('finds, takes and lists entries (with their times) as a map by id would, whatever order they settle in', () => {
    // Each step adds the next id (true) or takes one id, in flight or not (a number).
    const step = fc.oneof(fc.constant<true>(true), fc.integer({ min: -5, max: 3000 }))
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 4000, size: 'max' }),
        fc.integer({ min: 1, max: 3 }),
        (steps, stride) => {
          const inFlight = new InFlight<string>()
          const model = new Map<number, string>()
          let nextId = 1
          for (const s of steps) {
            if (s === true) {
              inFlight.add(nextId, `v${nextId}`, nextId / 7)
              model.set(nextId, `v${nextId}`)
              nextId += stride
            } else {
              const expected = model.get(s)
              model.delete(s)
              expect(inFlight.take(s)).toBe(expected)
              // The time given with an entry comes back with it.
              if (expected !== undefined) expect(inFlight.takenAt).toBe(s / 7)
            }
            expect(inFlight.size).toBe(model.size)
          }
          expect(inFlight.entries()).toEqual([...model.entries()])
          expect(inFlight.values()).toEqual([...model.values()])
        },
      ),
      { numRuns: 100 },
    )
  })

  it('keeps entries and their times right as settled slots are dropped from the front (100k settled in order)', () => {
    const inFlight = new InFlight<number>()
    for (let id = 1; id <= 100_000; id++) {
      inFlight.add(id, id, id * 2)
      if (id > 10) {
        expect(inFlight.take(id - 10)).toBe(id - 10)
        expect(inFlight.takenAt).toBe((id - 10) * 2)
      }
    }
    expect(inFlight.size).toBe(10)
    expect(inFlight.values()).toEqual([
      99_991, 99_992, 99_993, 99_994, 99_995, 99_996, 99_997, 99_998, 99_999, 100_000,
    ])
  })

  it('holds no slot long for what has settled, nor for the ids skipped while nothing was in flight', () => {
    // Settled slots are not visible through the class's API, only in memory: read its array.
    const inFlight = new InFlight<number>()
    const slotsHeld = () => (inFlight as unknown as { slots: unknown[] }).slots.length
    let most = 0
    for (let id = 1; id <= 100_000; id++) {
      inFlight.add(id, id)
      if (id > 10) inFlight.take(id - 10)
      most = Math.max(most, slotsHeld())
    }
    // Dropped once they are most of the array and more than 1,024.
    expect(most).toBeLessThanOrEqual(2 * 1024 + 10)
    for (let id = 99_991; id <= 100_000; id++) inFlight.take(id)
    inFlight.add(5_000_000, 5)
    expect(slotsHeld()).toBe(1)
    expect(inFlight.entries()).toEqual([[5_000_000, 5]])
  })

  it('refuses an id that does not increase, and keeps what it holds', () => {
    const inFlight = new InFlight<string>()
    inFlight.add(5, 'five')
    expect(() => inFlight.add(5, 'again')).toThrow(/in-flight ids must increase: 5 after 5/)
    expect(() => inFlight.add(3, 'older')).toThrow(RangeError)
    expect(inFlight.entries()).toEqual([[5, 'five']])
  })

  it('takes nothing twice, nothing unknown, and nothing after clear', () => {
    const inFlight = new InFlight<string>()
    inFlight.add(1, 'one')
    inFlight.add(2, 'two')
    expect(inFlight.take(1)).toBe('one')
    expect(inFlight.take(1)).toBeUndefined()
    expect(inFlight.take(1.5)).toBeUndefined()
    expect(inFlight.take(Number.NaN)).toBeUndefined()
    inFlight.clear()
    expect(inFlight.take(2)).toBeUndefined()
    expect(inFlight.size).toBe(0)
    inFlight.add(3, 'three')
    expect(inFlight.entries()).toEqual([[3, 'three']])
  })
})
