/**
 * `npm run bench [-- [--quick] [--case NAME]]`: runs every case's variants interleaved (in reverse
 * order every other repetition), each run in a fresh process, and reports the median and min–max
 * of each measurement with its ratio to the anchors: the median of the ratios within each
 * repetition, with their range. Prints the table and writes it with the raw values: a full run
 * to bench/results/latest.md and latest.json (the README's table), any other to files named after
 * it (quick.md, NAME.md, quick-NAME.md …), so a short or partial run never replaces the full one.
 * --quick runs one short repetition: it checks the suite works, never a speed threshold.
 * BENCH_REPS sets the repetitions of a run that is not quick (5 by default).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseCommandLine, readCommandLine, UsageError } from '../src/main/node/command-line.js'
import { readIntegerVariable } from '../src/shared/environment.js'
import { cases } from './cases/index.js'
import { runVariant } from './child-run.js'
import { type Measurement, median } from './harness.js'

const { quick, only, repetitions } = readCommandLine(
  `[BENCH_REPS=N] npm run bench [-- [--quick] [--case NAME]] (N: 5 unless given; NAME: ${cases.map((c) => c.name).join(', ')})`,
  () => {
    const { values } = parseCommandLine({
      args: process.argv.slice(2),
      options: { quick: { type: 'boolean' }, case: { type: 'string' } },
    })
    const only = values.case
    if (only !== undefined && !cases.some((c) => c.name === only)) {
      throw new UsageError(`there is no case '${only}' (cases: ${cases.map((c) => c.name).join(', ')})`)
    }
    const quick = values.quick === true
    const repetitions = quick ? 1 : (readIntegerVariable(process.env, 'BENCH_REPS', 1, 100) ?? 5)
    return { quick, only, repetitions }
  },
)
const options = [...(quick ? ['--quick'] : []), ...(only === undefined ? [] : ['--case', only])]
const command = ['npm run bench', ...(options.length > 0 ? ['--', ...options] : [])].join(' ')
/** The results' file name: `latest` for a full run only. */
const resultsName = [quick ? 'quick' : undefined, only].filter(Boolean).join('-') || 'latest'

interface Row {
  case: string
  variant: string
  metric: string
  unit: string
  better: Measurement['better']
  values: number[]
  /** The repetition each value came from (a failed run leaves its repetition out). */
  repetitions: number[]
  median: number
  min: number
  max: number
}

const failures: string[] = []

/** One variant in a fresh process; a run that fails or hangs is reported, and the suite goes on. */
function runChild(caseName: string, variant: string): Measurement[] {
  try {
    return runVariant(join(import.meta.dirname, '..'), caseName, variant, quick)
  } catch (error) {
    failures.push(`${caseName} / ${variant}: ${(error as Error).message}`)
    return []
  }
}

const rows = new Map<string, Row>()
for (const definition of cases.filter((c) => only === undefined || c.name === only)) {
  console.error(`\n${definition.title}`)
  for (let repetition = 1; repetition <= repetitions; repetition++) {
    // Interleaved: every variant once per repetition, so drift on the machine hits all alike; in
    // reverse order every other repetition, so a drift within a repetition (this VM's speed moves
    // by tens of percent within minutes) favours neither the variants run first nor those run last.
    const variants = repetition % 2 === 1 ? definition.variants : [...definition.variants].reverse()
    for (const variant of variants) {
      for (const m of runChild(definition.name, variant)) {
        const key = `${definition.name}|${variant}|${m.metric}`
        const row = rows.get(key) ?? {
          case: definition.name,
          variant,
          metric: m.metric,
          unit: m.unit,
          better: m.better,
          values: [],
          repetitions: [],
          median: 0,
          min: 0,
          max: 0,
        }
        row.values.push(m.value)
        row.repetitions.push(repetition)
        rows.set(key, row)
      }
      console.error(`  ${repetition}/${repetitions} ${variant}`)
    }
  }
}
for (const row of rows.values()) {
  row.median = median(row.values)
  row.min = Math.min(...row.values)
  row.max = Math.max(...row.values)
}

const format = (value: number, unit: string) =>
  unit === 'msg/s'
    ? `${Math.round(value).toLocaleString('en-US')}`
    : unit === 'µs'
      ? `${Math.round(value)}`
      : `${value.toFixed(1)}`

const isBus = (variant: string) => /^(bus|hub|direct)/.test(variant)
/** Acknowledged traffic (Reliable, request/response calls) or fire-and-forget (everything else). */
const mode = (variant: string) =>
  /Reliable|calls|requests|respond/.test(variant) ? 'acknowledged' : 'fire-and-forget'

/**
 * Each anchor row is compared with the bus's variant of the same case and metric in the same mode
 * (hub Reliable against birpc and comlink calls, hub BestEffort against raw, relay and events,
 * hub requests against the calls of the requests case),
 * else with the case's first bus variant. The ratio is taken within each repetition (the variants
 * ran minutes apart at most, so the machine's drift between repetitions cancels out); the table
 * gives their median and range.
 */
function ratioToBus(row: Row): string {
  const candidates = [...rows.values()].filter(
    (r) => r.case === row.case && r.metric === row.metric && isBus(r.variant),
  )
  const bus = candidates.find((r) => mode(r.variant) === mode(row.variant)) ?? candidates[0]
  if (!bus || bus === row || isBus(row.variant)) return ''
  const ratios: number[] = []
  row.repetitions.forEach((repetition, index) => {
    const busValue = bus.values[bus.repetitions.indexOf(repetition)]
    const anchorValue = row.values[index] as number
    if (busValue === undefined) return
    ratios.push(row.better === 'higher' ? busValue / anchorValue : anchorValue / busValue)
  })
  if (ratios.length === 0) return ''
  const range =
    ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''
  return `${median(ratios).toFixed(2)}×${range}`
}

const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
const date = new Date().toISOString().slice(0, 10)
const lines = [
  `Machine: ${machine}. Date: ${date}. Command: \`${command}\` (${repetitions} repetition${repetitions === 1 ? '' : 's'}, each in a fresh process, variants interleaved, in reverse order every other repetition).`,
  '',
  '| case | variant | metric | median | min – max | bus vs this anchor (range) |',
  '|---|---|---|---:|---:|---:|',
  ...[...rows.values()].map(
    (r) =>
      `| ${r.case} | ${r.variant} | ${r.metric} (${r.unit}) | ${format(r.median, r.unit)} | ${format(r.min, r.unit)} – ${format(r.max, r.unit)} | ${ratioToBus(r)} |`,
  ),
  '',
  'Ratios: above 1× the bus is better than that anchor (higher throughput or lower latency), below 1× it is worse; each is the median of the ratios within a repetition, with their range.',
  ...(failures.length > 0
    ? ['', 'Runs that failed (left out of the medians):', ...failures.map((f) => `- ${f}`)]
    : []),
]
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true })
writeFileSync(
  join(import.meta.dirname, 'results', `${resultsName}.json`),
  `${JSON.stringify({ machine, date, quick, repetitions, rows: [...rows.values()] }, null, 2)}\n`,
)
writeFileSync(join(import.meta.dirname, 'results', `${resultsName}.md`), `${lines.join('\n')}\n`)
console.log(lines.join('\n'))
// Quick mode proves every case runs: any failure fails it.
if (quick && failures.length > 0) process.exit(1)
