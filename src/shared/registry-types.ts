/**
 * Module registry shapes, shared by the bus, its metrics snapshot and the inspector.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'

/** A module's status in the registry; a new module starts as `Starting`. */
export const ModuleStatus = Object.freeze({
  Starting: 'Starting',
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Unhealthy: 'Unhealthy',
  ShuttingDown: 'ShuttingDown',
  Stopped: 'Stopped',
} as const)
/** One of the `ModuleStatus` values. */
export const moduleStatusSchema = z.enum(ModuleStatus)
export type ModuleStatus = z.infer<typeof moduleStatusSchema>

/** The registry's verdict over every module (`registry.summary().overall`). */
export const OverallHealth = Object.freeze({
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Critical: 'Critical',
  Transitioning: 'Transitioning',
  Unknown: 'Unknown',
} as const)
export type OverallHealth = (typeof OverallHealth)[keyof typeof OverallHealth]

/** One module's registry entry. */
export const moduleInfoSchema = z.object({
  moduleId: moduleIdSchema,
  status: moduleStatusSchema,
  registeredAt: z.date(),
  lastHealthCheck: z.date().optional(),
  version: z.string().optional(),
  /** How often the host has restarted the module's process after it died. */
  restarts: z.number().int().nonnegative().optional(),
  /**
   * How the module's process last ended, as its host saw it: the exit code and, when it died of
   * an uncaught error the host could read, that error's text.
   */
  lastExit: z.object({ code: z.number().int(), error: z.string().optional(), at: z.date() }).optional(),
  /** How many `Error` messages the module published about itself since it registered. */
  errorsReported: z.number().int().nonnegative().optional(),
  /** The latest of them: its `errorType`, its `message`, and the report's own timestamp. */
  lastError: z.object({ errorType: z.string(), message: z.string(), at: z.date() }).optional(),
})
/** How a module's process last ended: its exit code, the error it died of if known, and when. */
export type ModuleExit = NonNullable<z.infer<typeof moduleInfoSchema>['lastExit']>
/** The latest error a module reported about itself. */
export type ReportedError = NonNullable<z.infer<typeof moduleInfoSchema>['lastError']>
/**
 * One module's registry entry: status, when it registered, its last health check, version,
 * restarts, last exit and the errors it reported.
 */
export type ModuleInfo = z.infer<typeof moduleInfoSchema>
