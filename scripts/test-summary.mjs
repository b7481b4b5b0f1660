// Prints vitest's totals as one plain closing line ("vitest: N passed, N failed, N skipped"),
// so CI logs state the count of tests run. Reads the JSON report vitest writes.
import { readFileSync } from 'node:fs'

const report = JSON.parse(readFileSync(process.argv[2] ?? 'test-results/vitest.json', 'utf8'))
const skipped = report.numPendingTests + report.numTodoTests
console.log(`vitest: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`)
if (report.numTotalTests === 0) {
  console.error('vitest ran no test')
  process.exit(1)
}
