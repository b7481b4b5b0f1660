import { describe, expect, it } from 'vitest'
import { monotonicMs } from '../../src/shared/clock.js'

describe('the monotonic clock', () => {
  it('reads performance.now(), the clock latencies and peer timers are measured on', () => {
    const before = performance.now()
    const read = monotonicMs()
    const after = performance.now()
    expect(read).toBeGreaterThanOrEqual(before)
    expect(read).toBeLessThanOrEqual(after)
  })
})
