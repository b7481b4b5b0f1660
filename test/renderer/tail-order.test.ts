import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { withArrivals } from '../../src/renderer/inspector/tail-order.js'

const entry = (name: string, ms: number) => ({ name, message: { timestamp: new Date(ms) } })
const names = (entries: { name: string }[]) => entries.map((e) => e.name)

describe('the message tail’s order', () => {
  it('places a direct route’s late sample by its publish time, under the hub’s newer messages', () => {
    // The hub streamed its messages at once; the route's producer reported its own 250 ms later.
    const shown = withArrivals([], [entry('hub 1', 1_000), entry('hub 2', 1_200)], 500)
    const merged = withArrivals(
      shown,
      [entry('route 1', 1_050), entry('route 2', 1_150), entry('route 3', 1_250)],
      500,
    )
    expect(names(merged)).toEqual(['route 3', 'hub 2', 'route 2', 'route 1', 'hub 1'])
  })

  it('puts the later arrival first among messages of the same millisecond, as by arrival', () => {
    const shown = withArrivals([], [entry('a', 5), entry('b', 5)], 500)
    expect(names(shown)).toEqual(['b', 'a'])
    expect(names(withArrivals(shown, [entry('c', 5)], 500))).toEqual(['c', 'b', 'a'])
  })

  it('keeps the newest when over its limit, whichever batch they came in', () => {
    const shown = withArrivals([], [entry('old', 1), entry('newer', 3)], 2)
    expect(names(withArrivals(shown, [entry('newest', 4), entry('older', 2)], 2))).toEqual([
      'newest',
      'newer',
    ])
  })

  it('is, for any batches, the newest `limit` of everything seen, newest first', () => {
    const batches = fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 20, size: 'max' }), {
      maxLength: 10,
      size: 'max',
    })
    fc.assert(
      fc.property(batches, fc.integer({ min: 1, max: 40 }), (times, limit) => {
        let shown: ReturnType<typeof entry>[] = []
        let seen = 0
        for (const batch of times)
          shown = withArrivals(
            shown,
            batch.map((ms) => entry(String(seen++), ms)),
            limit,
          )
        const all = times.flat().sort((a, b) => b - a)
        expect(shown.map((e) => e.message.timestamp.getTime())).toEqual(all.slice(0, limit))
      }),
    )
  })
})
