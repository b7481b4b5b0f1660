/**
 * Command lines of the project's Node tools (the demo, the chaos harness, the benchmarks), read
 * strictly: a typo ends the tool with what was wrong and how it is used, never a run with NaN
 * messages a second or an option silently ignored.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'

/** A command line its tool cannot run with; the message says what is wrong. */
export class UsageError extends Error {}

/**
 * `config.args` read by node:util's `parseArgs`, strict as it is by default: unknown options, an
 * option's missing value and positionals where none are allowed are refused.
 * @throws UsageError
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/**
 * The command-line argument `name`, given as `text`, as a number of at least `min` (a whole one
 * if `integer`), or `fallback` when it was not given.
 * @throws UsageError
 */
export function numberArgument(
  name: string,
  text: string | undefined,
  fallback: number,
  { min = 0, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${name} must be ${integer ? 'a whole number' : 'a number'} ≥ ${min}, not '${text}'`)
  }
  return value
}

/**
 * What `read` makes of the command line; on a {@link UsageError} the process prints it with
 * `usage` and exits with code 2 (other errors are thrown on).
 */
export function readCommandLine<T>(usage: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`${error.message}\nusage: ${usage}`)
    return process.exit(2)
  }
}

/**
 * A load tool's optional `[seconds] [rate]` positionals (each a number ≥ 1), with its defaults.
 * @throws UsageError
 */
export function durationAndRate(
  positionals: readonly string[],
  defaults: { seconds: number; rate: number },
): { seconds: number; rate: number } {
  if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}'`)
  return {
    seconds: numberArgument('seconds', positionals[0], defaults.seconds, { min: 1 }),
    rate: numberArgument('rate', positionals[1], defaults.rate, { min: 1 }),
  }
}
