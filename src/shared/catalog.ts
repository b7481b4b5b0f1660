/**
 * The message catalog: identities, message types, priorities and one zod schema per payload type.
 * Every TypeScript payload type is inferred from its schema, so the two can never disagree.
 * Runtime-neutral: no Node, DOM or Electron imports.
 */
import { z } from 'zod'
import { EventBusError } from './errors.js'
import { jsonValueSchema } from './json.js'

/** The well-known Skelly-Jelly modules. Other ids are allowed if they match {@link moduleIdPattern}. */
export const ModuleId = Object.freeze({
  DataCapture: 'data-capture',
  Storage: 'storage',
  AnalysisEngine: 'analysis-engine',
  Gamification: 'gamification',
  AiIntegration: 'ai-integration',
  CuteFigurine: 'cute-figurine',
  Orchestrator: 'orchestrator',
  EventBus: 'event-bus',
} as const)

/** Kebab-case identity of a module, window or outside process. */
export const moduleIdPattern = /^[a-z][a-z0-9-]{0,63}$/

/**
 * A module identity: one of {@link ModuleId}'s values or any other string matching
 * {@link moduleIdPattern} (checked at run time wherever an id enters the bus).
 */
export type ModuleId = (typeof ModuleId)[keyof typeof ModuleId] | (string & {})

/**
 * Whether a message from `module` claims another module as its source. A source that is no module
 * id at all is not a claim: the message is malformed, and validation refuses it as in process.
 * The pattern is tested only for a source other than `module`, not for every honest message.
 */
export function claimsOtherSource(source: unknown, module: string): boolean {
  return typeof source === 'string' && source !== module && moduleIdPattern.test(source)
}

/**
 * The module id last found valid: a message's source is nearly always its sender's last one. It
 * always holds a valid id, from the start too (an empty string there would let '' through).
 */
let lastModuleId: string = ModuleId.EventBus

/**
 * Whether `id` is a string matching {@link moduleIdPattern}: the one check wherever an id enters
 * the bus. Comparing a string to the last valid id costs a few nanoseconds where the pattern costs
 * tens, on every message validated.
 */
export function isModuleId(id: unknown): id is string {
  if (id === lastModuleId) return true
  if (typeof id !== 'string' || !moduleIdPattern.test(id)) return false
  lastModuleId = id
  return true
}

/** Why `id` was refused as a module id, for a `Configuration` error's reason. */
export function notAModuleId(id: unknown): string {
  return `'${String(id)}' is not a valid module id (kebab-case: ${moduleIdPattern})`
}

/** A module id: kebab-case, a lowercase letter then up to 63 of `[a-z0-9-]`. */
export const moduleIdSchema = z
  .string()
  .refine(isModuleId, 'a module id is kebab-case: a lowercase letter, then up to 63 of [a-z0-9-]')

/** Message priorities; higher numbers are delivered first. */
export const MessagePriority = Object.freeze({ Low: 0, Normal: 1, High: 2, Critical: 3 } as const)
export type MessagePriority = (typeof MessagePriority)[keyof typeof MessagePriority]
/** One of the four `MessagePriority` levels, 0 to 3. */
export const messagePrioritySchema = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)])
/** Number of priority levels (priorities are 0 … PRIORITY_LEVELS - 1). */
export const PRIORITY_LEVELS = 4

const uuid = z.uuid()
const count = z.number().int().nonnegative()
const confidence = z.number().min(0).max(1)
const json = jsonValueSchema

const rawEventSchema = z.object({
  eventType: z.string(),
  data: json,
  windowTitle: z.string().optional(),
  timestamp: z.date(),
})

/**
 * The zod schema of every built-in payload type, keyed by message type. Frozen: every bus and
 * endpoint in the process starts from this one object, and hands it out as its `catalog`.
 */
export const builtinCatalog = Object.freeze({
  RawEvent: rawEventSchema,
  EventBatch: z.object({
    windowStart: z.date(),
    windowEnd: z.date(),
    events: z.array(rawEventSchema),
    sessionId: uuid,
  }),
  StorageStatus: z.object({ totalEvents: count, storageSizeBytes: count, lastBatchTime: z.date() }),
  AnalysisComplete: z.object({
    windowId: uuid,
    state: z.string(),
    confidence,
    startTime: z.date(),
    endTime: z.date(),
  }),
  StateChange: z.object({
    state: z.string(),
    confidence,
    timestamp: z.date(),
    transitionFrom: z.string().optional(),
  }),
  InterventionRequest: z.object({
    requestId: uuid,
    interventionType: z.string(),
    urgency: z.string(),
    context: json,
  }),
  RewardEvent: z.object({ rewardId: uuid, rewardType: z.string(), points: count, description: z.string() }),
  InterventionResponse: z.object({
    requestId: uuid,
    responseText: z.string(),
    animationCues: z.array(z.string()),
  }),
  AnimationCommand: z.object({
    commandId: uuid,
    animationType: z.string(),
    parameters: json,
    durationMs: count,
  }),
  HealthCheck: z.object({ moduleId: moduleIdSchema, timestamp: z.date() }),
  ConfigUpdate: z.object({
    configKey: z.string(),
    configValue: json,
    targetModule: moduleIdSchema.optional(),
  }),
  Shutdown: z.object({ moduleId: moduleIdSchema, timeoutMs: count, saveState: z.boolean() }),
  ModuleReady: moduleIdSchema,
  Error: z.object({
    errorId: uuid,
    errorType: z.string(),
    message: z.string(),
    module: moduleIdSchema,
    timestamp: z.date(),
    context: json.optional(),
  }),
} as const)

/** A catalog maps message type names to the zod schema of their data. */
export type Catalog = Readonly<Record<string, z.ZodType>>
/** The built-in catalog's type: the fourteen message types of BUS-API.md and their schemas. */
export type BuiltinCatalog = typeof builtinCatalog

/** What an application's own message type may be called. */
const CUSTOM_TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/

/**
 * The built-in catalog with `extra`'s types added (the built-in one itself when there are none), as
 * `createEventBus({ catalog })` and `connectBus(port, { catalog })` take it.
 * @throws EventBusError `Configuration` for a catalog that is no object, redefines a built-in type,
 * names a type badly or maps one to something other than a zod schema
 */
export function extendCatalog(extra: unknown): Catalog {
  if (extra === undefined) return builtinCatalog
  // A list is an object too: its indexes would be refused as type names, which says nothing of the mistake.
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw EventBusError.of('Configuration', { reason: 'catalog must be an object of { [type]: zodSchema }' })
  }
  for (const [type, schema] of Object.entries(extra)) {
    if (Object.hasOwn(builtinCatalog, type)) {
      throw EventBusError.of('Configuration', {
        reason: `catalog: '${type}' is a built-in type and cannot be redefined`,
      })
    }
    if (!CUSTOM_TYPE_NAME.test(type)) {
      throw EventBusError.of('Configuration', {
        reason: `catalog: '${type}' is not a valid type name (${CUSTOM_TYPE_NAME.source})`,
      })
    }
    if (typeof (schema as { safeParse?: unknown } | null)?.safeParse !== 'function') {
      throw EventBusError.of('Configuration', { reason: `catalog: '${type}' must map to a zod schema` })
    }
  }
  return Object.freeze({ ...builtinCatalog, ...(extra as Catalog) })
}

/** The built-in message types; keys equal values. */
export const MessageType = Object.freeze(
  Object.fromEntries(Object.keys(builtinCatalog).map((type) => [type, type])) as {
    readonly [K in keyof BuiltinCatalog]: K
  },
)
export type MessageType = keyof BuiltinCatalog

/** The message type names of a catalog. */
export type TypeOf<C extends Catalog> = keyof C & string

/** The data carried by messages of type `T` in catalog `C` (the built-in one by default). */
export type DataOf<T extends TypeOf<C>, C extends Catalog = BuiltinCatalog> = z.output<C[T]>

/** A captured user action (keystroke, mouse move, window switch): DataCapture's output. */
export type RawEvent = DataOf<'RawEvent'>
/** The raw events of one time window, as Storage hands them to AnalysisEngine. */
export type EventBatch = DataOf<'EventBatch'>
/** Storage's running totals: events kept, bytes on disk, the last batch's time. */
export type StorageStatus = DataOf<'StorageStatus'>
/** AnalysisEngine's verdict on one window of events. */
export type AnalysisComplete = DataOf<'AnalysisComplete'>
/** The user's state (focused, distracted, idle…) as it changes. */
export type StateChange = DataOf<'StateChange'>
/** A request for help or encouragement, answered by an `InterventionResponse` with the same `requestId`. */
export type InterventionRequest = DataOf<'InterventionRequest'>
/** Points awarded by Gamification. */
export type RewardEvent = DataOf<'RewardEvent'>
/** AiIntegration's answer to an `InterventionRequest`, with cues for the figure. */
export type InterventionResponse = DataOf<'InterventionResponse'>
/** An animation for the CuteFigurine window to play. */
export type AnimationCommand = DataOf<'AnimationCommand'>
/** A health probe; the module named by `moduleId` answers with one of its own as `source`. */
export type HealthCheck = DataOf<'HealthCheck'>
/** A configuration change, for every module or for `targetModule` alone. */
export type ConfigUpdate = DataOf<'ConfigUpdate'>
/** Asks `moduleId` to stop within `timeoutMs`, saving its state if `saveState`. */
export type Shutdown = DataOf<'Shutdown'>
/** The data of an `Error` message: a failure a module reports on the bus. */
export type ErrorReport = DataOf<'Error'>
