/** A short chaos run in every `npm test`; `npm run chaos` runs a longer one and prints the table. */
import { describe, expect, it } from 'vitest'
import { formatReport, runChaos } from './harness.js'

describe('chaos', () => {
  it('loses no Reliable message while workers are killed, ports closed and handlers stalled', async () => {
    const report = await runChaos({ seconds: 4, rate: 500, faultEveryMs: 400 })
    console.log(formatReport(report))
    expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(3)
    expect(report.published).toBeGreaterThan(1500)
    expect(report.quiet).toBe(true)
    expect(report.lost).toBe(0)
    expect(report.delivered + report.deadLettered).toBeGreaterThanOrEqual(report.published)
    expect(report.accountingHolds).toBe(true)
    // Memory back within bounds once the faults stop and the queues drain.
    expect(report.finalHeapMb).toBeLessThan(Math.max(report.peakHeapMb, 150))
    expect(report.finalHeapMb).toBeLessThan(200)
  }, 90_000)
})
