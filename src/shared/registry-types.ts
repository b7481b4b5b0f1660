/**
 * Module registry shapes, shared by the bus, its metrics snapshot and the inspector.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'

/** A module's status in the registry; a new module starts as `Starting`. */
export const ModuleStatus = {
  Starting: 'Starting',
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Unhealthy: 'Unhealthy',
  ShuttingDown: 'ShuttingDown',
  Stopped: 'Stopped',
} as const
/** One of the `ModuleStatus` values. */
export const moduleStatusSchema = z.enum(ModuleStatus)
export type ModuleStatus = z.infer<typeof moduleStatusSchema>

/** The registry's verdict over every module (`registry.summary().overall`). */
export const OverallHealth = {
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Critical: 'Critical',
  Transitioning: 'Transitioning',
  Unknown: 'Unknown',
} as const
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
})
/** One module's registry entry: status, when it registered, its last health check, version and restarts. */
export type ModuleInfo = z.infer<typeof moduleInfoSchema>
