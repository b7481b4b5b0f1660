import { describe, expect, it } from 'vitest'
import { clockTime } from '../../src/renderer/inspector/format.js'

describe('clockTime', () => {
  it('writes a chart time as a local 24-hour clock, one row, zero-padded', () => {
    const evening = new Date(2026, 11, 2, 20, 7, 5).getTime() / 1000
    expect(clockTime(evening)).toBe('20:07:05')
    const morning = new Date(2026, 11, 2, 9, 0, 0).getTime() / 1000
    expect(clockTime(morning)).toBe('09:00:00')
  })

  it('drops the fraction of a second a tick may carry', () => {
    const tick = new Date(2026, 11, 2, 23, 59, 59, 750).getTime() / 1000
    expect(clockTime(tick)).toBe('23:59:59')
  })
})
