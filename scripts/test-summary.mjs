// Prints each runner's totals and, last, one plain closing line for the whole run
// ("total: N passed, N failed, N skipped"). Reads the JSON reports of vitest and Playwright.
import { existsSync, readFileSync } from 'node:fs'

const read = (path) => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined)
const totals = { passed: 0, failed: 0, skipped: 0 }
const line = (name, { passed, failed, skipped }) =>
  `${name}: ${passed} passed, ${failed} failed, ${skipped} skipped`

const vitest = read('test-results/vitest.json')
if (vitest) {
  const counts = {
    passed: vitest.numPassedTests,
    failed: vitest.numFailedTests,
    skipped: vitest.numPendingTests + vitest.numTodoTests,
  }
  console.log(line('vitest', counts))
  for (const key of Object.keys(totals)) totals[key] += counts[key]
}

const playwright = read('test-results/playwright.json')
if (playwright) {
  const { expected = 0, unexpected = 0, flaky = 0, skipped = 0 } = playwright.stats
  const counts = { passed: expected + flaky, failed: unexpected, skipped }
  console.log(line('playwright', counts))
  if (skipped > 0)
    console.log(`playwright: ${skipped} skipped — Electron specs need Electron's binary, absent here`)
  for (const key of Object.keys(totals)) totals[key] += counts[key]
}

console.log(line('total', totals))
if (totals.passed + totals.failed === 0) {
  console.error('no test ran')
  process.exit(1)
}
