/**
 * The start-up options each Skelly-Jelly module takes from its host, as zod schemas: one place says
 * what a module takes, its defaults and, for the settings a ConfigUpdate may change, what a value
 * must be. A host checks the options it is given against them before it starts anything, so a
 * misspelt key or a wrong value is refused with `Configuration` instead of silently replaced by a
 * default; a module gets its options parsed, defaults filled in. Schemas only: the main process
 * imports them without the modules' code.
 */
import { z } from 'zod'
import { EventBusError, firstIssue } from '../shared/errors.js'
import type { JsonValue } from '../shared/json.js'

/** A number setting, with what it takes in words (for refusals) and its default. */
function numberSetting(takes: string, check: (n: z.ZodNumber) => z.ZodNumber, fallback: number) {
  return check(z.number()).default(fallback).describe(takes)
}

const milliseconds = (fallback: number) =>
  numberSetting('milliseconds, above 0', (n) => n.positive(), fallback)

/** DataCapture's events per second unless the host's options say otherwise. */
export const DEFAULT_CAPTURE_RATE = 10

/**
 * Each module's options by module id: every module a host can run, in the order hosts start them
 * (`ALL_MODULES` is these keys), with an empty object for those that take none.
 */
export const moduleOptionSchemas = {
  'data-capture': z.strictObject({
    /** RawEvents published per second. */
    rate: numberSetting('events per second, above 0', (n) => n.positive(), DEFAULT_CAPTURE_RATE),
    /** How long each activity phase (focused, distracted, idle) lasts. */
    phaseMs: milliseconds(15_000),
  }),
  storage: z.strictObject({
    /** How often an EventBatch of the latest events is published. */
    batchMs: milliseconds(3_000),
    /** How often written events are flushed to disk. */
    fsyncMs: milliseconds(250),
    /** The size at which `events.jsonl` is rotated. */
    maxFileBytes: numberSetting('bytes, a whole number above 0', (n) => n.int().positive(), 64 * 1024 * 1024),
    /** Rotated files kept besides the current one. */
    keepFiles: numberSetting('files, a whole number of 1 or more', (n) => n.int().min(1), 3),
  }),
  'analysis-engine': z.strictObject({}),
  gamification: z.strictObject({
    /** The least time between two interventions. */
    cooldownMs: numberSetting('milliseconds, 0 or more', (n) => n.min(0), 20_000),
  }),
  'ai-integration': z.strictObject({}),
} as const

/** A module's options schema: a strict object of settings with their defaults. */
export type ModuleOptionsSchema = z.ZodObject<Record<string, z.ZodType>, z.core.$strict>

/**
 * Options as a host passes them, per module id, typed by the schemas: a misspelt key or a string
 * rate fails to compile where the caller is typed, and is refused at run time where it is not.
 */
export type ModuleOptionsInput = {
  readonly [Module in keyof typeof moduleOptionSchemas]?: Readonly<
    z.input<(typeof moduleOptionSchemas)[Module]>
  >
}

/** Every module a host can run. */
const MODULE_IDS = Object.keys(moduleOptionSchemas)

function configuration(reason: string): EventBusError {
  return EventBusError.of('Configuration', { reason })
}

/**
 * Checks a host's `modules` and `moduleOptions` before it starts anything: every module it names
 * must be one there is, and every option one that module takes, with a value it accepts.
 * @throws EventBusError `Configuration` naming the first module or option refused and why
 */
export function checkModuleSettings(
  modules: readonly string[],
  moduleOptions: ModuleOptionsInput = {},
): void {
  const named = [
    ...modules.map((id) => ['modules', id]),
    ...Object.keys(moduleOptions).map((id) => ['moduleOptions', id]),
  ]
  for (const [where, id] of named) {
    if (!MODULE_IDS.includes(id ?? ''))
      throw configuration(
        `${where} names '${id}', which is not a module (there are ${MODULE_IDS.join(', ')})`,
      )
  }
  for (const [id, options] of Object.entries(moduleOptions)) {
    const parsed = optionsSchemaOf(id).safeParse(options)
    if (!parsed.success) throw configuration(firstIssue(parsed.error, `moduleOptions.${id}`))
  }
}

/** The options of a module that takes none. */
export const noOptions: ModuleOptionsSchema = z.strictObject({})

/** The options schema of module `id`. */
function optionsSchemaOf(id: string): ModuleOptionsSchema {
  return (moduleOptionSchemas as Record<string, ModuleOptionsSchema>)[id] ?? noOptions
}

/**
 * A ConfigUpdate's value for setting `key` of `schema`, checked as a start-up option is.
 * @throws Error saying what the setting takes, for a value it refuses
 */
export function settingValue<S extends ModuleOptionsSchema, K extends keyof z.output<S> & string>(
  schema: S,
  key: K,
  value: JsonValue,
): z.output<S>[K] {
  const setting = schema.shape[key]
  const parsed = setting?.safeParse(value)
  if (setting === undefined || !parsed?.success)
    throw new Error(`'${key}' takes ${setting?.description ?? 'no value'} (got ${JSON.stringify(value)})`)
  return parsed.data as z.output<S>[K]
}
