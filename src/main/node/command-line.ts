/**
 * Command lines of the project's Node tools (the demo, the chaos harness, the benchmarks), read
 * strictly: a typo ends the tool with what was wrong and how it is used, never a run with NaN
 * messages a second or an option silently ignored.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type Environment, readIntegerVariable, readPositiveVariable } from '../../shared/environment.js'
import { isEventBusError } from '../../shared/errors.js'

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
 * The command-line argument `name`, given as `text` (absent: `fallback`), read by the rules and with
 * the messages of the environment's settings (`shared/environment`): an integer from `min` to `max`.
 * @throws EventBusError `Configuration` naming the argument, what it accepts and what it got
 */
export function integerArgument(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  return readIntegerVariable(given(name, text), name, min, max) ?? fallback
}

/**
 * As {@link integerArgument}, for a number above 0 up to `max` (`unit` names what it counts).
 * @throws EventBusError `Configuration`
 */
export function positiveArgument(
  name: string,
  text: string | undefined,
  fallback: number,
  max: number,
  unit: string,
) {
  return readPositiveVariable(given(name, text), name, max, unit) ?? fallback
}

function given(name: string, text: string | undefined): Environment {
  return text === undefined ? {} : { [name]: text }
}

/**
 * What `read` makes of the command line (and of the tool's environment variables); on a
 * {@link UsageError} or a `Configuration` error the process prints what is wrong with `usage` and
 * exits with code 2 (other errors are thrown on). Asking for help (`--help` or `-h`) prints
 * `usage` and exits 0, reading nothing else.
 */
export function readCommandLine<T>(usage: string, read: () => T): T {
  if (process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) {
    console.log(`usage: ${usage}`)
    return process.exit(0)
  }
  try {
    return read()
  } catch (error) {
    const wrong =
      error instanceof UsageError
        ? error.message
        : isEventBusError(error) && error.kind === 'Configuration'
          ? error.reason
          : undefined
    if (wrong === undefined) throw error
    console.error(`${wrong}\nusage: ${usage}`)
    return process.exit(2)
  }
}

/**
 * A load tool's optional `[seconds] [rate]` positionals (each a number above 0), with its defaults.
 * @throws UsageError for a third positional, EventBusError `Configuration` for a bad number
 */
export function durationAndRate(
  positionals: readonly string[],
  defaults: { seconds: number; rate: number },
): { seconds: number; rate: number } {
  if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}'`)
  return {
    seconds: positiveArgument('seconds', positionals[0], defaults.seconds, 86_400, 'seconds'),
    rate: positiveArgument('rate', positionals[1], defaults.rate, 1_000_000, 'messages per second'),
  }
}
