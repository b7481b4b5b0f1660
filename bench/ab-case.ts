/**
 * `npm run bench:ab-case -- OTHER_CHECKOUT CASE VARIANT [--pairs N] [--quick]`: one variant of
 * any case for this checkout (B) against another checkout (A), each run in a fresh process as
 * `npm run bench` runs it, `--pairs` times (8 by default), alternating which goes first. A run that
 * fails ends the comparison, saying which checkout's and why. It prints each pair and,
 * for every measurement, the median of the ratios within the pairs with their range, oriented so
 * that above 1× B is better (for a figure that can be 0 or below, such as an overhead in %, the
 * median of the differences: above 0 B is better). `bench:ab` does the same for the in-process case within one process;
 * this one is for the cases whose work spans threads and processes, where a change of a few
 * per cent is smaller than this VM's drift between two runs minutes apart (docs/performance.md).
 * OTHER_CHECKOUT needs its dependencies installed (a worktree can link this one's `node_modules`).
 * --quick runs the variant's short version (`.ci/run` checks the tool works with it; its ratios mean
 * nothing).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  integerArgument,
  parseCommandLine,
  readCommandLine,
  UsageError,
} from '../src/main/node/command-line.js'
import { cases } from './cases/index.js'
import { runVariant } from './child-run.js'
import { type Measurement, median } from './harness.js'

const USAGE = `npm run bench:ab-case -- OTHER_CHECKOUT CASE VARIANT [--pairs N] [--quick] (8 pairs unless given; CASE: ${cases.map((c) => c.name).join(', ')})`
const { other, caseName, variant, pairs, quick } = readCommandLine(USAGE, () => {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { pairs: { type: 'string' }, quick: { type: 'boolean' } },
  })
  const [other, caseName, variant, ...extra] = positionals
  if (other === undefined || caseName === undefined || variant === undefined)
    throw new UsageError('OTHER_CHECKOUT, CASE and VARIANT are all needed')
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  if (!existsSync(join(resolve(other), 'bench/child.ts')))
    throw new UsageError(`${other} has no bench/child.ts`)
  const definition = cases.find((c) => c.name === caseName)
  if (definition === undefined) throw new UsageError(`there is no case '${caseName}'`)
  if (!definition.variants.includes(variant))
    throw new UsageError(`case '${caseName}' has no variant '${variant}' (${definition.variants.join(', ')})`)
  return {
    other: resolve(other),
    caseName,
    variant,
    pairs: integerArgument('--pairs', values.pairs, 8, 1, 100),
    quick: values.quick === true,
  }
})

const here = join(import.meta.dirname, '..')
/** Each measurement's values, A's and B's, pair by pair. */
const series = new Map<
  string,
  { better: Measurement['better']; unit: Measurement['unit']; a: number[]; b: number[] }
>()
const shown = (value: number | undefined) =>
  value === undefined ? '–' : value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2)

for (let pair = 0; pair < pairs; pair++) {
  const run = (checkout: string) => {
    try {
      return runVariant(checkout, caseName, variant, quick)
    } catch (error) {
      console.error(`pair ${pair + 1}: ${caseName} / ${variant} in ${checkout}: ${(error as Error).message}`)
      process.exit(1)
    }
  }
  let a: Measurement[]
  let b: Measurement[]
  if (pair % 2 === 0) {
    a = run(other)
    b = run(here)
  } else {
    b = run(here)
    a = run(other)
  }
  for (const measured of b) {
    const before = a.find((m) => m.metric === measured.metric)
    if (before === undefined) continue
    const entry = series.get(measured.metric) ?? {
      better: measured.better,
      unit: measured.unit,
      a: [],
      b: [],
    }
    entry.a.push(before.value)
    entry.b.push(measured.value)
    series.set(measured.metric, entry)
  }
  const line = b.map(
    (m) =>
      `${m.metric}: A ${shown(a.find((x) => x.metric === m.metric)?.value)}  B ${shown(m.value)} ${m.unit}`,
  )
  console.log(line.join('; '))
}
const pairsRun = `${pairs} pair${pairs === 1 ? '' : 's'}`
for (const [metric, { better, unit, a, b }] of series) {
  // A ratio says nothing of a figure that can be 0 or below (an overhead in %, which hovers
  // around 0): such a figure is compared by its difference within each pair instead.
  if ([...a, ...b].some((value) => value <= 0)) {
    const gains = a.map((before, index) => {
      const after = b[index] as number
      return better === 'higher' ? after - before : before - after
    })
    const signed = (value: number) => `${value > 0 ? '+' : ''}${value.toFixed(2)}`
    console.log(
      `${metric}: B against A ${signed(median(gains))} ${unit} (${signed(Math.min(...gains))} to ${signed(Math.max(...gains))}), ${pairsRun}; above 0 B is better`,
    )
    continue
  }
  const ratios = a.map((before, index) => {
    const after = b[index] as number
    return better === 'higher' ? after / before : before / after
  })
  console.log(
    `${metric}: B against A ${median(ratios).toFixed(3)}× (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}), ${pairsRun}; above 1× B is better`,
  )
}
