/** The objects a walk has met: each told apart from one met before, and all forgotten on clear. */
import { describe, expect, it } from 'vitest'
import { Meetings } from '../../src/shared/meetings.js'

describe('meetings', () => {
  it.each([3, 40])('tells a repeat among %i objects, and forgets every one on clear', (count) => {
    const meetings = new Meetings()
    const objects = Array.from({ length: count }, (_, index) => ({ index }))
    for (const object of objects) expect(meetings.first(object)).toBe(true)
    for (const object of objects) expect(meetings.first(object)).toBe(false)
    meetings.clear()
    // The next walk meets them afresh: a walk that met many (kept in a Set) leaves none behind.
    for (const object of objects) expect(meetings.first(object)).toBe(true)
    expect(meetings.first({ index: 0 })).toBe(true) // equal, but another object
  })
})
