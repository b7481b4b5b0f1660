/**
 * Keeps the out-of-process modules running: launches each (as a worker thread or an Electron
 * utility process, through the launcher the host gives), attaches its port to the hub with the
 * module's identity and permissions, restarts it with capped backoff when it dies, and stops them
 * all gracefully. What it sees is mirrored in the bus registry.
 */

import { lifecyclePermissions, moduleDefinitions } from '../../modules/index.js'
import type { RunOptions } from '../../modules/lifecycle.js'
import type { ModuleOptionsInput } from '../../modules/options.js'
import { monotonicMs } from '../../shared/clock.js'
import { describeThrown } from '../../shared/errors.js'
import type { PortInput } from '../../shared/port.js'
import type { ModuleExit } from '../../shared/registry-types.js'
import type { EventBus } from '../bus/index.js'
import { ModuleStatus } from '../bus/registry.js'
import type { Hub } from '../hub/index.js'
import type { Orchestrator } from './orchestrator.js'
import { startInOrder } from './start-order.js'

/** A running module process, as a launcher reports it. */
export interface ModuleProcess {
  /** The hub's end of the module's channel. */
  readonly port: PortInput
  /**
   * Resolves once the process has ended, however it ended: its exit code and, when it died of an
   * uncaught error the launcher could read, that error's text.
   */
  readonly exited: Promise<ProcessExit>
  /** Ends the process at once (a crash, as far as the module can tell). */
  kill(): Promise<void>
}

/** How a module's process ended: the registry's `lastExit` but for when. */
export type ProcessExit = Omit<ModuleExit, 'at'>

/** A process's exit code, with the uncaught error it died of if its launcher heard one. */
export function processExit(code: number, error: string | undefined): ProcessExit {
  return error === undefined ? { code } : { code, error }
}

export type ModuleLauncher = (moduleId: string, run: RunOptions) => ModuleProcess

export interface SupervisorOptions {
  dataDir: string
  /** Start-up options per module id (checked by the host with `checkModuleSettings`). */
  moduleOptions?: ModuleOptionsInput
  restartInitialMs?: number
  restartMaxMs?: number
}

export interface ModuleState {
  moduleId: string
  running: boolean
  restarts: number
  lastExitCode?: number
}

interface Supervised {
  state: ModuleState
  process?: ModuleProcess
  backoffMs: number
  /** When its current process started, on the monotonic clock (ms): a wall-clock step must not reset its backoff. */
  startedAt: number
  restartTimer?: ReturnType<typeof setTimeout>
  /** Why the hub refused the current process's port, said as its exit's error. */
  attachError?: string
}

/** A module that stayed up this long has its restart backoff reset. */
const STABLE_MS = 30_000

/** The exit code recorded for a module whose process could not be started at all. */
export const NEVER_STARTED = -1

export class ModuleSupervisor {
  private readonly modules = new Map<string, Supervised>()
  private stopping = false
  /** Stops waiting to start the modules that wait for others (see `startInOrder`). */
  private stopWaiting = () => {}
  private readonly initialMs: number
  private readonly maxMs: number

  constructor(
    private readonly bus: EventBus,
    private readonly hub: Hub,
    private readonly launch: ModuleLauncher,
    private readonly options: SupervisorOptions,
  ) {
    this.initialMs = options.restartInitialMs ?? 250
    this.maxMs = options.restartMaxMs ?? 10_000
  }

  /** Starts `moduleIds`, each once those it starts after are ready (see `startInOrder`). */
  start(moduleIds: readonly string[]): void {
    for (const moduleId of moduleIds)
      if (moduleDefinitions[moduleId] === undefined) throw new Error(`no module '${moduleId}'`)
    for (const moduleId of moduleIds) {
      this.modules.set(moduleId, {
        state: { moduleId, running: false, restarts: 0 },
        backoffMs: this.initialMs,
        startedAt: 0,
      })
      this.bus.registry.setStatus(moduleId, ModuleStatus.Starting)
    }
    this.stopWaiting = startInOrder(this.bus, moduleIds, (moduleId) => {
      const supervised = this.modules.get(moduleId)
      if (supervised !== undefined) this.spawn(supervised)
    })
  }

  states(): ModuleState[] {
    return [...this.modules.values()].map((supervised) => ({ ...supervised.state }))
  }

  /** Kills a module's process as a crash would (for tests and chaos runs); it is restarted. */
  async kill(moduleId: string): Promise<void> {
    await this.modules.get(moduleId)?.process?.kill()
  }

  /** Asks every module to shut down, waits up to `timeoutMs`, then ends what is left. */
  async stop(orchestrator: Orchestrator, timeoutMs: number): Promise<void> {
    this.stopping = true
    this.stopWaiting()
    const running = [...this.modules.values()].filter((supervised) => supervised.process !== undefined)
    for (const supervised of this.modules.values()) {
      clearTimeout(supervised.restartTimer)
      // One waiting out its backoff is not started again: stopped as well.
      if (supervised.process === undefined)
        this.bus.registry.setStatus(supervised.state.moduleId, ModuleStatus.Stopped)
    }
    await Promise.all(
      running.map(async (supervised) => {
        const process = supervised.process as ModuleProcess
        // A Shutdown the bus refuses (it is shutting down itself) changes nothing here: the wait
        // below ends the process either way, by its own exit or by kill.
        await orchestrator.requestShutdown(supervised.state.moduleId, timeoutMs).catch(() => {})
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs))
        if ((await Promise.race([process.exited, timer])) === 'timeout') await process.kill()
        await process.exited
      }),
    )
  }

  private spawn(supervised: Supervised): void {
    const { moduleId } = supervised.state
    const definition = moduleDefinitions[moduleId]
    if (definition === undefined) return
    this.bus.registry.setStatus(moduleId, ModuleStatus.Starting)
    supervised.startedAt = monotonicMs()
    let process: ModuleProcess
    try {
      process = this.launch(moduleId, {
        dataDir: this.options.dataDir,
        options: this.options.moduleOptions?.[moduleId as keyof ModuleOptionsInput] ?? {},
      })
    } catch (error) {
      // A thread or process the system refused (too many threads, a missing bootstrap file): as a
      // death at once, so the backoff paces the retries; thrown from a restart's timer, it would
      // have ended the host, and the module would never have been tried again.
      this.exited(supervised, { code: NEVER_STARTED, error: `could not start: ${describeThrown(error)}` })
      return
    }
    supervised.process = process
    supervised.state.running = true
    void process.exited.then((exit) =>
      this.exited(supervised, supervised.attachError ? { ...exit, error: supervised.attachError } : exit),
    )
    try {
      this.hub.attach(process.port, { module: moduleId, permissions: lifecyclePermissions(definition) })
      supervised.attachError = undefined
    } catch (error) {
      // Unreachable without a hub (closed under it): the process is ended, and says why.
      supervised.attachError = `could not attach: ${describeThrown(error)}`
      void process.kill()
    }
  }

  private exited(supervised: Supervised, exit: ProcessExit): void {
    supervised.process = undefined
    supervised.state.running = false
    supervised.state.lastExitCode = exit.code
    const { moduleId } = supervised.state
    this.bus.registry.recordExit(moduleId, { ...exit, at: new Date() })
    if (this.stopping) {
      this.bus.registry.setStatus(moduleId, ModuleStatus.Stopped)
      return
    }
    this.bus.registry.setStatus(moduleId, ModuleStatus.Unhealthy)
    if (monotonicMs() - supervised.startedAt > STABLE_MS) supervised.backoffMs = this.initialMs
    const delay = supervised.backoffMs
    supervised.backoffMs = Math.min(this.maxMs, supervised.backoffMs * 2)
    supervised.restartTimer = setTimeout(() => {
      supervised.state.restarts++
      this.bus.registry.recordRestart(moduleId)
      this.spawn(supervised)
    }, delay)
  }
}
