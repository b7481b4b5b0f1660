import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PRIORITY_LEVELS } from '../../src/shared/catalog.js'
import { PriorityFifo } from '../../src/shared/priority-fifo.js'

type Step = { op: 'push' | 'unshift'; priority: number } | { op: 'shift' } | { op: 'drain' }

const step: fc.Arbitrary<Step> = fc.oneof(
  // Mostly adding and seldom draining, so the ring buffers fill past their first 16 slots (and
  // past 32) with their heads moved by shifts and unshifts: they wrap around as they grow.
  {
    weight: 30,
    arbitrary: fc.record({ op: fc.constant('push' as const), priority: fc.nat(PRIORITY_LEVELS - 1) }),
  },
  {
    weight: 20,
    arbitrary: fc.record({ op: fc.constant('unshift' as const), priority: fc.nat(PRIORITY_LEVELS - 1) }),
  },
  { weight: 25, arbitrary: fc.record({ op: fc.constant('shift' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
)

describe('PriorityFifo', () => {
  it('gives items back as arrays per priority would: highest priority first, pushed in order, unshifted ahead', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 200, maxLength: 1500, size: 'max' }), (steps) => {
        const fifo = new PriorityFifo<number>()
        const model: number[][] = Array.from({ length: PRIORITY_LEVELS }, () => [])
        const next = () => model.findLast((level) => level.length > 0)?.shift()
        let item = 0
        for (const s of steps) {
          if (s.op === 'push' || s.op === 'unshift') {
            item++
            fifo[s.op](item, s.priority)
            if (s.op === 'push') model[s.priority]?.push(item)
            else model[s.priority]?.unshift(item)
          } else if (s.op === 'shift') {
            expect(fifo.shift()).toBe(next())
          } else {
            const drained: number[] = []
            fifo.drain(drained)
            expect(drained).toEqual(model.toReversed().flat())
            for (const level of model) level.length = 0
          }
          expect(fifo.length).toBe(model.flat().length)
        }
        const rest: number[] = []
        fifo.drain(rest)
        expect(rest).toEqual(model.toReversed().flat())
      }),
      { numRuns: 150 },
    )
  })

  it('keeps an item of a priority it has no level for, last, rather than throwing', () => {
    const fifo = new PriorityFifo<string>()
    fifo.push('unknown', PRIORITY_LEVELS + 3)
    fifo.push('low', 0)
    fifo.push('high', PRIORITY_LEVELS - 1)
    expect([fifo.shift(), fifo.shift(), fifo.shift(), fifo.shift()]).toEqual([
      'high',
      'unknown',
      'low',
      undefined,
    ])
    expect(fifo.length).toBe(0)
  })
})
