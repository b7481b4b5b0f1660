/**
 * Frames a link could not read, reported at most once a second: the first at once, those that
 * follow counted into one report when the second is over, what is left reported as the link ends.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { UNREADABLE_REPORT_INTERVAL_MS, UnreadableFrames } from '../../src/shared/unreadable-frames.js'
import { useFakeClock } from '../helpers.js'

function recorded() {
  const reports: [count: number, reason: string][] = []
  const frames = new UnreadableFrames((count, reason) => reports.push([count, reason]))
  return { frames, reports }
}

beforeEach(() => {
  useFakeClock()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('unreadable frames', () => {
  it('reports the first at once, and those within the next second together once it is over', () => {
    const { frames, reports } = recorded()
    frames.add('first')
    expect(reports).toEqual([[1, 'first']])
    frames.add('second')
    frames.add('third')
    vi.advanceTimersByTime(UNREADABLE_REPORT_INTERVAL_MS - 1)
    expect(reports).toEqual([[1, 'first']])
    vi.advanceTimersByTime(1)
    expect(reports).toEqual([
      [1, 'first'],
      [2, 'second'],
    ])
  })

  it('reports again at once after a quiet second, and nothing when nothing came', () => {
    const { frames, reports } = recorded()
    frames.add('one')
    vi.advanceTimersByTime(5 * UNREADABLE_REPORT_INTERVAL_MS)
    expect(reports).toEqual([[1, 'one']])
    frames.add('two')
    expect(reports).toEqual([
      [1, 'one'],
      [1, 'two'],
    ])
  })

  it('a second after a delayed report, holds the next one again', () => {
    const { frames, reports } = recorded()
    frames.add('a')
    frames.add('b')
    vi.advanceTimersByTime(UNREADABLE_REPORT_INTERVAL_MS)
    frames.add('c')
    expect(reports).toEqual([
      [1, 'a'],
      [1, 'b'],
    ])
    vi.advanceTimersByTime(UNREADABLE_REPORT_INTERVAL_MS)
    expect(reports.at(-1)).toEqual([1, 'c'])
  })

  it('on close, reports what it counted and not yet reported, and nothing after', () => {
    const { frames, reports } = recorded()
    frames.add('a')
    frames.add('b')
    frames.close()
    expect(reports).toEqual([
      [1, 'a'],
      [1, 'b'],
    ])
    expect(vi.getTimerCount()).toBe(0)
    frames.add('c')
    frames.close()
    vi.advanceTimersByTime(10 * UNREADABLE_REPORT_INTERVAL_MS)
    expect(reports).toHaveLength(2)
  })

  it('closed with nothing counted, reports nothing', () => {
    const { frames, reports } = recorded()
    frames.add('a')
    frames.close()
    expect(reports).toEqual([[1, 'a']])
  })
})
