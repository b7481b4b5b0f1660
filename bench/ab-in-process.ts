/**
 * `npm run bench:ab -- OTHER_CHECKOUT [--pairs N] [--total N]`: the in-process case (one
 * subscriber) for this checkout's bus (B) against another checkout's (A), in one process.
 *
 * On a VM whose speed moves by tens of percent within minutes, two runs of one variant a minute
 * apart differ by more than most changes gain; `npm run bench` absorbs that for ratios to anchors,
 * not for two versions of the bus. Here both versions are imported side by side (two module
 * graphs, each compiled on its own), warmed up, then measured in turn, `--pairs` times (16 by
 * default), alternating which goes first, so a drift favours neither. It prints each pair and the
 * median of the ratios B/A with their range. A control: the same commit checked out twice
 * (`git worktree add`) should give about 1×. OTHER_CHECKOUT needs its dependencies installed (a
 * worktree can link this checkout's `node_modules`).
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  integerArgument,
  parseCommandLine,
  readCommandLine,
  UsageError,
} from '../src/main/node/command-line.js'
import { type BusModule, timeBus } from './cases/in-process.js'
import { median } from './harness.js'

/** The other checkout's bus, relative to it. */
const OTHER_BUS = 'src/main/bus/index.ts'
const USAGE =
  'npm run bench:ab -- OTHER_CHECKOUT [--pairs N] [--total N] (16 pairs of 200,000 publishes unless given)'
const { other, pairs, total } = readCommandLine(USAGE, () => {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { pairs: { type: 'string' }, total: { type: 'string' } },
  })
  const [other, ...extra] = positionals
  if (other === undefined) throw new UsageError('OTHER_CHECKOUT is missing')
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  if (!existsSync(resolve(other, OTHER_BUS))) throw new UsageError(`${other} has no ${OTHER_BUS}`)
  return {
    other,
    pairs: integerArgument('--pairs', values.pairs, 16, 1, 1000),
    total: integerArgument('--total', values.total, 200_000, 1000, 100_000_000),
  }
})

const a = (await import(pathToFileURL(resolve(other, OTHER_BUS)).href)) as BusModule
const b = (await import('../src/main/bus/index.js')) as BusModule
const rate = async (module: BusModule) => total / ((await timeBus(1, total, module)) / 1000)

// Warm-up: until the optimizing compiler has run on both.
for (let round = 0; round < 2; round++) {
  await rate(a)
  await rate(b)
}
const ratios: number[] = []
for (let pair = 0; pair < pairs; pair++) {
  let rateA: number
  let rateB: number
  if (pair % 2 === 0) {
    rateA = await rate(a)
    rateB = await rate(b)
  } else {
    rateB = await rate(b)
    rateA = await rate(a)
  }
  ratios.push(rateB / rateA)
  console.log(
    `A ${Math.round(rateA).toLocaleString('en-US')}  B ${Math.round(rateB).toLocaleString('en-US')} deliveries/s`,
  )
}
console.log(
  `B/A median ${median(ratios).toFixed(3)}× (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}), ${pairs} pair${pairs === 1 ? '' : 's'} of ${total.toLocaleString('en-US')} publishes`,
)
