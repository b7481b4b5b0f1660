import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  durationAndRate,
  integerArgument,
  parseCommandLine,
  positiveArgument,
  UsageError,
} from '../../src/main/node/command-line.js'
import { isEventBusError } from '../../src/shared/errors.js'

/** The reason of the `Configuration` error `read` throws. */
function configurationReason(read: () => unknown): string | undefined {
  try {
    read()
  } catch (error) {
    if (isEventBusError(error) && error.kind === 'Configuration') return error.reason
    throw error
  }
  return undefined
}

const root = join(import.meta.dirname, '../..')
/** Each tool starts a Node process that compiles its TypeScript: seconds on a busy machine. */
const SPAWNING = 60_000

/** Runs a tool as npm would (node with tsx), `env` added; resolves with its exit code and error output. */
async function runTool(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: root, env: { ...process.env, ...env }, timeout: 30_000 },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

describe('command lines of the tools', () => {
  it('refuses unknown options and missing values, naming them', () => {
    const options = { quick: { type: 'boolean' }, case: { type: 'string' } } as const
    expect(parseCommandLine({ args: ['--quick', '--case', 'direct'], options }).values).toEqual({
      quick: true,
      case: 'direct',
    })
    expect(() => parseCommandLine({ args: ['--qiuck'], options })).toThrow(UsageError)
    expect(() => parseCommandLine({ args: ['--qiuck'], options })).toThrow(/--qiuck/)
    expect(() => parseCommandLine({ args: ['--case'], options })).toThrow(/--case/)
    expect(() => parseCommandLine({ args: ['extra'], options })).toThrow(/extra/)
  })

  it('reads numbers by the environment settings’ rules, and says what is wrong with any other', () => {
    expect(positiveArgument('rate', undefined, 500, 1_000, 'messages per second')).toBe(500)
    expect(positiveArgument('rate', ' ', 500, 1_000, 'messages per second')).toBe(500) // blank: not given
    expect(positiveArgument('rate', '2.5', 500, 1_000, 'messages per second')).toBe(2.5)
    expect(integerArgument('--pairs', '3', 16, 1, 1000)).toBe(3)
    for (const text of ['seconds=20', 'abc', 'Infinity', 'NaN', '0', '-4', '1e3', '5000']) {
      expect(
        configurationReason(() => positiveArgument('seconds', text, 30, 4000, 'seconds')),
        text,
      ).toBe(`seconds must be a number of seconds above 0 up to 4000 (got '${text}')`)
    }
    expect(configurationReason(() => integerArgument('--pairs', '1.5', 16, 1, 1000))).toBe(
      "--pairs must be an integer from 1 to 1000 (got '1.5')",
    )
  })

  it('takes a load tool’s seconds and rate, each optional, and no third argument', () => {
    const defaults = { seconds: 30, rate: 1000 }
    expect(durationAndRate([], defaults)).toEqual(defaults)
    expect(durationAndRate(['4'], defaults)).toEqual({ seconds: 4, rate: 1000 })
    expect(durationAndRate(['4', '200'], defaults)).toEqual({ seconds: 4, rate: 200 })
    expect(() => durationAndRate(['4', '200', '9'], defaults)).toThrow("unexpected argument '9'")
  })

  it('the chaos harness stops at a bad argument with exit code 2 and its usage, running no load', {
    timeout: SPAWNING,
  }, async () => {
    // It used to read `seconds=20` as NaN, run no load at all and report that nothing was lost.
    const { code, stderr } = await runTool('test/chaos/run.ts', ['seconds=20'])
    expect(code).toBe(2)
    expect(stderr).toContain("seconds must be a number of seconds above 0 up to 86400 (got 'seconds=20')")
    expect(stderr).toContain('usage: npm run chaos')
    expect(stderr).not.toContain('fault:')
    const alone = await runTool('test/chaos/run.ts', ['4', '--kill-producer'])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--kill-producer needs --direct')
  })

  it('the benchmark stops at an unknown case or option before it writes any results', {
    timeout: SPAWNING,
  }, async () => {
    const latest = join(root, 'bench/results/latest.md')
    const before = statSync(latest).mtimeMs
    const unknownCase = await runTool('bench/run.ts', ['--case', 'nosuch'])
    expect(unknownCase.code).toBe(2)
    expect(unknownCase.stderr).toContain("there is no case 'nosuch' (cases: in-process,")
    const typo = await runTool('bench/run.ts', ['--qiuck'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/--qiuck[\s\S]*usage: .*npm run bench/)
    // One case: should the check ever go, the run stays short and writes no latest.*.
    const noRepetitions = await runTool('bench/run.ts', ['--case', 'in-process'], { BENCH_REPS: '0' })
    expect(noRepetitions.code).toBe(2)
    expect(noRepetitions.stderr).toContain("BENCH_REPS must be an integer from 1 to 100 (got '0')")
    expect(statSync(latest).mtimeMs).toBe(before)
  })

  it('each tool answers --help with its usage and exit code 0, running nothing', {
    timeout: SPAWNING,
  }, async () => {
    const latest = join(root, 'bench/results/latest.md')
    const before = statSync(latest).mtimeMs
    const bench = await runTool('bench/run.ts', ['--help'])
    expect(bench).toMatchObject({ code: 0, stderr: '' })
    expect(bench.stdout).toMatch(/^usage: .*npm run bench .*NAME: in-process, /)
    expect(statSync(latest).mtimeMs).toBe(before)
    const chaos = await runTool('test/chaos/run.ts', ['-h'])
    expect(chaos).toMatchObject({ code: 0, stderr: '' })
    expect(chaos.stdout).toMatch(/^usage: npm run chaos/)
    expect(chaos.stdout).not.toContain('fault:')
  })

  it('the demo runs the core for the seconds given: every RawEvent published is stored or dead-lettered', {
    timeout: SPAWNING,
  }, async () => {
    const { code, stdout } = await runTool('src/main/node/demo.ts', ['1', '400'])
    expect(code).toBe(0)
    const [, stored, deadLetters] = stdout.match(/stored (\d+) events; (\d+) dead letters/) ?? []
    // Its table's row for DataCapture, which publishes the RawEvents: module, then published.
    const [, published] = stdout.match(/'data-capture'\s*│\s*(\d+)/) ?? []
    expect(Number(published), stdout).toBeGreaterThan(100)
    expect(Number(stored) + Number(deadLetters)).toBe(Number(published))
  })

  it('the A/B benchmark refuses a checkout without the bus', { timeout: SPAWNING }, async () => {
    const { code, stderr } = await runTool('bench/ab-in-process.ts', ['/nonexistent', '--pairs', '2'])
    expect(code).toBe(2)
    expect(stderr).toContain('/nonexistent has no src/main/bus/index.ts')
  })
})
