/**
 * `npm run chaos [-- seconds] [rate] [--direct] [--kill-producer]`: a longer chaos run; prints the
 * table (lost and unaccounted must be 0). `--direct` sends DataCapture's messages to Storage over a
 * direct route; `--kill-producer` also kills DataCapture's worker.
 */
import { formatReport, runChaos } from './harness.js'

const args = process.argv.slice(2)
const [seconds = 30, rate = 1000] = args.filter((arg) => !arg.startsWith('--')).map(Number)
const report = await runChaos({
  seconds,
  rate,
  faultEveryMs: 500,
  direct: args.includes('--direct'),
  killProducer: args.includes('--kill-producer'),
  log: (line) => console.error(line),
})
console.log(formatReport(report))
process.exit(report.quiet && report.lost === 0 && report.unaccounted === 0 ? 0 : 1)
