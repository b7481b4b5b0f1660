/**
 * `npm run chaos [-- [SECONDS] [RATE] [--direct] [--kill-producer]]`: a longer chaos run; prints the
 * table (lost and unaccounted must be 0). `--direct` sends DataCapture's messages to Storage over a
 * direct route; `--kill-producer` also kills DataCapture's worker.
 */
import {
  durationAndRate,
  parseCommandLine,
  readCommandLine,
  UsageError,
} from '../../src/main/node/command-line.js'
import { formatReport, runChaos } from './harness.js'

const USAGE =
  'npm run chaos [-- [SECONDS] [RATE] [--direct] [--kill-producer]] (defaults: 30 s, 1000 RawEvents/s)'
const options = readCommandLine(USAGE, () => {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { direct: { type: 'boolean' }, 'kill-producer': { type: 'boolean' } },
  })
  // The producer killed is the direct route's: without one, the option would do nothing.
  if (values['kill-producer'] === true && values.direct !== true)
    throw new UsageError('--kill-producer needs --direct')
  return {
    ...durationAndRate(positionals, { seconds: 30, rate: 1000 }),
    direct: values.direct === true,
    killProducer: values['kill-producer'] === true,
  }
})
const report = await runChaos({ ...options, faultEveryMs: 500, log: (line) => console.error(line) })
console.log(formatReport(report))
process.exit(report.quiet && report.lost === 0 && report.unaccounted === 0 ? 0 : 1)
