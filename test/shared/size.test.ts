import fc from 'fast-check'
import superjson from 'superjson'
import { describe, expect, it } from 'vitest'
import { encodedSizeOver } from '../../src/shared/size.js'

const exactSize = (value: unknown) => new TextEncoder().encode(superjson.stringify(value)).length

const richValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    fc.date({ noInvalidDate: true }),
    fc.string({ unit: 'grapheme' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
    fc.array(fc.tuple(fc.string(), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  ),
})).value

describe('encodedSizeOver', () => {
  it('is undefined within the limit and a lower bound of the encoded size over it', () => {
    fc.assert(
      fc.property(richValue, fc.double({ min: 0, max: 2, noNaN: true }), (value, fraction) => {
        const exact = exactSize(value)
        const limit = Math.floor(exact * fraction)
        const over = encodedSizeOver(value, limit)
        if (exact <= limit) expect(over).toBeUndefined()
        else {
          expect(over).toBeGreaterThan(limit)
          expect(over).toBeLessThanOrEqual(exact)
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('measures a value right when measuring runs again from inside its walk', () => {
    const entries: [string, string][] = [
      ['a', 'x'.repeat(300)],
      ['b', 'y'.repeat(300)],
    ]
    // A Map whose iteration measures something else, as a publish from inside it would.
    class Reentrant extends Map<string, string> {
      override *[Symbol.iterator](): MapIterator<[string, string]> {
        for (const entry of entries) {
          encodedSizeOver({ other: 'z'.repeat(50) }, 10)
          yield entry
        }
      }
    }
    const limit = 500
    expect(encodedSizeOver({ data: new Reentrant() }, limit)).toBe(
      encodedSizeOver({ data: new Map(entries) }, limit),
    )
    expect(encodedSizeOver({ data: new Map(entries) }, limit)).toBeGreaterThan(limit)
  })
})
