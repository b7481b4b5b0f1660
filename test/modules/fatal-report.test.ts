/**
 * The report a module's utility process sends as it ends on an error: the main process reads the
 * error text from it alone, and nothing else the process might send passes for one.
 */
import { describe, expect, it } from 'vitest'
import { fatalReport, reportedFatal } from '../../src/modules/runners/fatal-report.js'

describe('a utility process’s fatal report', () => {
  it('carries the error’s name and message, or what was thrown, and is read back as that text', () => {
    expect(reportedFatal(fatalReport(new RangeError('rate out of range')))).toBe(
      'RangeError: rate out of range',
    )
    expect(reportedFatal(fatalReport('disk gone'))).toBe('Thrown: disk gone')
    expect(reportedFatal(fatalReport({ code: 'EACCES' }))).toBe('Thrown: {"code":"EACCES"}')
  })

  it('keeps a long message to 2,000 characters', () => {
    const text = reportedFatal(fatalReport(new Error('x'.repeat(5000))))
    expect(text).toHaveLength(2000)
    expect(text?.startsWith('Error: xxx')).toBe(true)
  })

  it('is not read into anything else a process may send', () => {
    for (const message of [
      undefined,
      null,
      'Error: boom',
      { error: 'boom' },
      { skellyFatal: 3 },
      { skellyFatal: 'a', more: 1 },
    ])
      expect(reportedFatal(message)).toBeUndefined()
  })
})
