/**
 * Settings read from environment variables, each checked as it is read: a value that is set but
 * not valid throws `Configuration` naming the variable, what it accepts and what it got. An empty
 * or blank variable counts as unset. Runtime-neutral: where there is no `process` (browsers,
 * sandboxed renderers) every variable is unset.
 */
import { EventBusError } from './errors.js'

export type Environment = Readonly<Record<string, string | undefined>>

export function currentEnvironment(): Environment {
  return (globalThis as { process?: { env?: Environment } }).process?.env ?? {}
}

/** The error a setting that is not accepted throws, from code or from the environment. */
export function configurationError(reason: string): EventBusError {
  return EventBusError.of('Configuration', { reason })
}

function readRaw(env: Environment, name: string): string | undefined {
  const raw = env[name]?.trim()
  return raw === undefined || raw === '' ? undefined : raw
}

/** A number written as `pattern` allows, for which `inRange` holds; `rule` says both, in the error. */
function readNumberVariable(
  env: Environment,
  name: string,
  pattern: RegExp,
  inRange: (value: number) => boolean,
  rule: string,
): number | undefined {
  const raw = readRaw(env, name)
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (!pattern.test(raw) || !inRange(value))
    throw configurationError(`${name} must be ${rule} (got '${raw}')`)
  return value
}

/** @throws EventBusError `Configuration` unless the variable is unset or an integer in [min, max] */
export function readIntegerVariable(
  env: Environment,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const inRange = (value: number) => value >= min && value <= max
  return readNumberVariable(env, name, /^\d+$/, inRange, `an integer from ${min} to ${max}`)
}

/**
 * A positive decimal number up to `max` (`unit` names what it counts, in the error).
 * @throws EventBusError `Configuration` unless the variable is unset or such a number
 */
export function readPositiveVariable(
  env: Environment,
  name: string,
  max: number,
  unit: string,
): number | undefined {
  const inRange = (value: number) => value > 0 && value <= max
  return readNumberVariable(env, name, /^\d*\.?\d+$/, inRange, `a number of ${unit} above 0 up to ${max}`)
}

const SWITCH_VALUES: Readonly<Record<string, boolean>> = {
  on: true,
  1: true,
  true: true,
  yes: true,
  off: false,
  0: false,
  false: false,
  no: false,
}

/** @throws EventBusError `Configuration` unless the variable is unset or on/off (1/0, true/false, yes/no) */
export function readSwitchVariable(env: Environment, name: string): boolean | undefined {
  const raw = readRaw(env, name)
  if (raw === undefined) return undefined
  const value = SWITCH_VALUES[raw.toLowerCase()]
  if (value === undefined) throw configurationError(`${name} must be on or off (got '${raw}')`)
  return value
}
