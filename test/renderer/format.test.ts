import { describe, expect, it } from 'vitest'
import {
  age,
  bytes,
  chartTime,
  clockTime,
  count,
  counted,
  millis,
  rate,
  show,
} from '../../src/renderer/inspector/format.js'

describe('the inspector clock', () => {
  it('writes a time as a local 24-hour clock, one row, zero-padded', () => {
    expect(clockTime(new Date(2026, 11, 2, 20, 7, 5))).toBe('20:07:05')
    expect(clockTime(new Date(2026, 11, 2, 9, 0, 0))).toBe('09:00:00')
  })

  it('adds milliseconds for the message tail, zero-padded to three digits', () => {
    expect(clockTime(new Date(2026, 11, 2, 20, 7, 5, 42), true)).toBe('20:07:05.042')
  })

  it('reads a chart tick in seconds since the epoch and drops its fraction of a second', () => {
    const tick = new Date(2026, 11, 2, 23, 59, 59, 750).getTime() / 1000
    expect(chartTime(tick)).toBe('23:59:59')
  })

  it('shows the tail and the charts on the same clock', () => {
    const at = new Date(2026, 11, 2, 6, 30, 15, 5)
    expect(clockTime(at, true).startsWith(chartTime(at.getTime() / 1000))).toBe(true)
  })
})

describe('ages', () => {
  const now = new Date(2026, 11, 5, 12, 0, 0).getTime()
  const ago = (seconds: number) => age(new Date(now - seconds * 1000), now)

  it('says how long ago in its two largest units, from seconds to days', () => {
    expect(ago(0)).toBe('0s ago')
    expect(ago(59)).toBe('59s ago')
    expect(ago(60)).toBe('1m 0s ago')
    expect(ago(3_599)).toBe('59m 59s ago')
    expect(ago(3_600)).toBe('1h 0m ago')
    expect(ago(86_399)).toBe('23h 59m ago')
    expect(ago(86_400)).toBe('1d 0h ago')
    expect(ago(11 * 86_400 + 23 * 3_600 + 59 * 60)).toBe('11d 23h ago')
  })

  it('says 0s for a time ahead of the clock (another process stamped it)', () => {
    expect(ago(-5)).toBe('0s ago')
  })
})

describe('counts', () => {
  it('groups thousands and rounds to whole numbers', () => {
    expect(count(0)).toBe('0')
    expect(count(999)).toBe('999')
    expect(count(12_345_678)).toBe('12,345,678')
    expect(count(1_234.6)).toBe('1,235')
    expect(count(-4_200)).toBe('-4,200')
  })

  it('rounds a negative fraction as any other count, below -10 whole', () => {
    expect(count(-12.5)).toBe('-12')
  })

  it('keeps one decimal between small integers, as an axis tick may fall there', () => {
    expect(count(0.5)).toBe('0.5')
    expect(count(9.25)).toBe('9.3')
    expect(count(10.4)).toBe('10')
  })
})

describe('counted nouns', () => {
  it('takes the singular for one only, and an irregular plural when given', () => {
    expect(counted(1, 'subscription')).toBe('1 subscription')
    expect(counted(0, 'subscription')).toBe('0 subscriptions')
    expect(counted(1_200, 'dead letter')).toBe('1,200 dead letters')
    expect(counted(3, 'copy waits', 'copies wait')).toBe('3 copies wait')
  })
})

describe('sizes', () => {
  it('writes bytes in the largest unit under which they stay above 1, decimal as network tools do', () => {
    expect([0, 999, 999.7, 12_345, 999_949, 999_999, 4_000_000, 52_428_800].map(bytes)).toEqual([
      '0 B',
      '999 B',
      '1.0 kB',
      '12.3 kB',
      '999.9 kB',
      '1.0 MB',
      '4.0 MB',
      '52.4 MB',
    ])
  })
})

describe('rates and durations', () => {
  it('writes a rate to a tenth under 100/s, whole to 10k/s, in thousands from there', () => {
    expect([99.94, 100, 9_999.4, 10_000, 123_456].map(rate)).toEqual([
      '99.9/s',
      '100/s',
      '9999/s',
      '10.0k/s',
      '123.5k/s',
    ])
  })

  it('writes a duration in µs under a millisecond, in ms to hundredths then tenths, in s from one', () => {
    expect([0.25, 1, 9.994, 10, 999.94, 1_000].map(millis)).toEqual([
      '250 µs',
      '1.00 ms',
      '9.99 ms',
      '10.0 ms',
      '999.9 ms',
      '1.00 s',
    ])
  })
})

describe('payloads shown by type', () => {
  it('writes empty collections on one line, however indented', () => {
    expect([new Map(), new Set(), [], {}].map((value) => show(value, '  '))).toEqual([
      'Map {}',
      'Set {}',
      '[]',
      '{}',
    ])
    expect(show({ a: new Map(), b: undefined })).toBe('{\n  a: Map {},\n  b: undefined\n}')
  })
})
