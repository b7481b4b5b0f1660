/** Runs one variant of one case in a fresh process, from a checkout of the project (see child.ts). */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { Measurement } from './harness.js'

/** How long one variant's process may run. */
export const CHILD_TIMEOUT_MS = 120_000

/**
 * The measurements `checkout`'s `bench/child.ts` prints for `variant` of `caseName`.
 * @throws Error saying why, if the process failed, hung past {@link CHILD_TIMEOUT_MS} or printed no result
 */
export function runVariant(
  checkout: string,
  caseName: string,
  variant: string,
  quick: boolean,
): Measurement[] {
  let output: string
  try {
    output = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(checkout, 'bench/child.ts'), caseName, variant, quick ? 'quick' : 'full'],
      { cwd: checkout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: CHILD_TIMEOUT_MS },
    )
  } catch (error) {
    throw new Error(
      (error as { code?: string }).code === 'ETIMEDOUT'
        ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s`
        : (error as Error).message.split('\n')[0],
    )
  }
  const line = output.split('\n').find((l) => l.startsWith('RESULT '))
  if (!line) throw new Error('printed no result')
  return JSON.parse(line.slice('RESULT '.length)) as Measurement[]
}
