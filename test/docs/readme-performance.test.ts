/**
 * The README's Performance section gives the latest full benchmark run as `npm run bench` wrote
 * it: a full run rewrites `bench/results/latest.md`, and the README must follow it word for word
 * (machine, date, command and every row), so the figures it states can be traced to a run.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')

it("the README's latest-run table is bench/results/latest.md, verbatim", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const latest = readFileSync(join(root, 'bench/results/latest.md'), 'utf8').trimEnd()
  expect(latest).toMatch(/^Machine: .*Command: `npm run bench` \(\d+ repetitions/)
  expect(
    readme.includes(latest),
    'README.md does not hold bench/results/latest.md: copy the new run in',
  ).toBe(true)
})
