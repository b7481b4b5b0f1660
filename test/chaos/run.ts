/** `npm run chaos [seconds] [rate]`: a longer chaos run; prints the table (lost must be 0). */
import { formatReport, runChaos } from './harness.js'

const seconds = Number(process.argv[2] ?? 30)
const rate = Number(process.argv[3] ?? 1000)
const report = await runChaos({ seconds, rate, faultEveryMs: 500, log: (line) => console.error(line) })
console.log(formatReport(report))
process.exit(report.quiet && report.lost === 0 && report.accountingHolds ? 0 : 1)
