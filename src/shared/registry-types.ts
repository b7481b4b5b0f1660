/**
 * Module registry shapes, shared by the bus, its metrics snapshot and the inspector.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'

export const ModuleStatus = {
  Starting: 'Starting',
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Unhealthy: 'Unhealthy',
  ShuttingDown: 'ShuttingDown',
  Stopped: 'Stopped',
} as const
export const moduleStatusSchema = z.enum(ModuleStatus)
export type ModuleStatus = z.infer<typeof moduleStatusSchema>

export const OverallHealth = {
  Healthy: 'Healthy',
  Degraded: 'Degraded',
  Critical: 'Critical',
  Transitioning: 'Transitioning',
  Unknown: 'Unknown',
} as const
export type OverallHealth = (typeof OverallHealth)[keyof typeof OverallHealth]

export const moduleInfoSchema = z.object({
  moduleId: moduleIdSchema,
  status: moduleStatusSchema,
  registeredAt: z.date(),
  lastHealthCheck: z.date().optional(),
  version: z.string().optional(),
  /** How often the host has restarted the module's process after it died. */
  restarts: z.number().int().nonnegative().optional(),
})
export type ModuleInfo = z.infer<typeof moduleInfoSchema>
