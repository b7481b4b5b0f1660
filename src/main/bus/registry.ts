/**
 * The module registry: who is attached, their status and a health verdict for the whole app.
 */
import { z } from 'zod'
import { isModuleId, notAModuleId } from '../../shared/catalog.js'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import {
  type ModuleExit,
  type ModuleInfo,
  ModuleStatus,
  moduleStatusSchema,
  OverallHealth,
  type ReportedError,
} from '../../shared/registry-types.js'

export {
  type ModuleInfo,
  ModuleStatus,
  moduleInfoSchema,
  moduleStatusSchema,
  OverallHealth,
} from '../../shared/registry-types.js'

/** `registry.summary()`: the verdict over every registered module. */
export interface HealthSummary {
  /**
   * `Critical` if any module is Unhealthy, else `Degraded` if any is, else `Transitioning` while any
   * is Starting or ShuttingDown, else `Healthy` when all are; `Unknown` otherwise (and when empty).
   */
  overall: OverallHealth
  /** How many modules are in each status (every status present, 0 included). */
  counts: Record<ModuleStatus, number>
  /** When the summary was taken. */
  timestamp: Date
}

/** What `register` takes besides the id; a misspelt key is refused rather than ignored. */
const registerOptionsSchema = z.object({ version: z.string().optional() }).strict()
export type RegisterOptions = z.infer<typeof registerOptionsSchema>

function checkModuleId(moduleId: unknown): string {
  if (!isModuleId(moduleId)) throw EventBusError.of('Configuration', { reason: notAModuleId(moduleId) })
  return moduleId
}

/**
 * An entry as a read hands it out: a copy down to its Dates, which no freeze protects (`setTime`
 * changes a frozen Date). The entries kept are never handed out.
 */
function copyOf(info: ModuleInfo): ModuleInfo {
  const { registeredAt, lastHealthCheck, lastExit, lastError } = info
  return {
    ...info,
    registeredAt: new Date(registeredAt),
    ...(lastHealthCheck === undefined ? {} : { lastHealthCheck: new Date(lastHealthCheck) }),
    ...(lastExit === undefined ? {} : { lastExit: { ...lastExit, at: new Date(lastExit.at) } }),
    ...(lastError === undefined ? {} : { lastError: { ...lastError, at: new Date(lastError.at) } }),
  }
}

/**
 * The bus's module registry (`bus.registry`): each module's status, registration time, last health
 * check, version and restarts. Every read returns copies, Dates too; changing them changes nothing
 * here, nor does changing a Date given to it afterwards.
 */
export class ModuleRegistry {
  private readonly modules = new Map<string, ModuleInfo>()

  /** Registers a module as Starting (or updates its version); returns its entry. */
  register(moduleId: string, options?: RegisterOptions): ModuleInfo {
    const id = checkModuleId(moduleId)
    const parsed = registerOptionsSchema.safeParse(options ?? {})
    if (!parsed.success) {
      throw EventBusError.of('Configuration', { reason: `register: ${firstIssue(parsed.error, 'options')}` })
    }
    const { version } = parsed.data
    const existing = this.modules.get(id)
    const info: ModuleInfo = existing
      ? { ...existing, ...(version === undefined ? {} : { version }) }
      : {
          moduleId: id,
          status: ModuleStatus.Starting,
          registeredAt: new Date(),
          ...(version === undefined ? {} : { version }),
        }
    this.modules.set(id, info)
    return copyOf(info)
  }

  /** Sets a module's status, registering it first if it is unknown. */
  setStatus(moduleId: string, status: ModuleStatus): ModuleInfo {
    const parsedStatus = moduleStatusSchema.safeParse(status)
    if (!parsedStatus.success) {
      throw EventBusError.of('Configuration', {
        reason: `'${String(status)}' is not a module status (${Object.keys(ModuleStatus).join(', ')})`,
      })
    }
    return copyOf(this.update(checkModuleId(moduleId), () => ({ status: parsedStatus.data })))
  }

  /** Counts a restart of the module's process (by the host's supervisor). */
  recordRestart(moduleId: string): void {
    this.update(moduleId, (info) => ({ restarts: (info.restarts ?? 0) + 1 }))
  }

  /** Records how the module's process ended (by the host's supervisor). */
  recordExit(moduleId: string, exit: ModuleExit): void {
    this.update(moduleId, () => ({ lastExit: { ...exit, at: new Date(exit.at) } }))
  }

  /**
   * Changes a module's entry as `change` says, registering the module first if it is unknown.
   * @returns the entry kept (not for handing out: a read copies it)
   */
  private update(moduleId: string, change: (info: ModuleInfo) => Partial<ModuleInfo>): ModuleInfo {
    const info = this.modules.get(moduleId) ?? this.register(moduleId)
    const updated = { ...info, ...change(info) }
    this.modules.set(updated.moduleId, updated)
    return updated
  }

  /** Records an error a registered module reported about itself (an `Error` it published). */
  recordError(moduleId: string, error: ReportedError): void {
    if (!this.modules.has(moduleId)) return
    this.update(moduleId, (info) => ({
      errorsReported: (info.errorsReported ?? 0) + 1,
      lastError: { ...error, at: new Date(error.at) },
    }))
  }

  /** Records a module's own answer to a health check. */
  recordHealthCheck(moduleId: string, at: Date): void {
    const info = this.modules.get(moduleId)
    if (info) this.modules.set(moduleId, { ...info, lastHealthCheck: new Date(at) })
  }

  /** The module's entry (a copy), or undefined if it never registered. */
  get(moduleId: string): ModuleInfo | undefined {
    const info = this.modules.get(moduleId)
    return info && copyOf(info)
  }

  /** Every registered module's entry (copies), in registration order. */
  list(): ModuleInfo[] {
    return [...this.modules.values()].map(copyOf)
  }

  /** The overall verdict and the count of modules per status. */
  summary(): HealthSummary {
    const counts = Object.fromEntries(Object.keys(ModuleStatus).map((status) => [status, 0])) as Record<
      ModuleStatus,
      number
    >
    for (const info of this.modules.values()) counts[info.status]++
    return { overall: overallHealth(counts, this.modules.size), counts, timestamp: new Date() }
  }
}

function overallHealth(counts: Record<ModuleStatus, number>, total: number): OverallHealth {
  if (counts.Unhealthy > 0) return OverallHealth.Critical
  if (counts.Degraded > 0) return OverallHealth.Degraded
  if (counts.Starting > 0 || counts.ShuttingDown > 0) return OverallHealth.Transitioning
  if (total > 0 && counts.Healthy === total) return OverallHealth.Healthy
  return OverallHealth.Unknown
}
