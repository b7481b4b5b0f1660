/**
 * What both hosts run once their bus has started: the Orchestrator, the modules under their
 * supervisor, and the one order they stop in. One copy for both, so that the Electron host, which
 * runs here only simulated, starts and stops as the headless host its tests run for real.
 */
import type { ModuleOptionsInput } from '../../modules/options.js'
import type { Hub } from '../hub/index.js'
import type { HostBus } from './host-bus.js'
import { type Orchestrator, startOrchestrator } from './orchestrator.js'
import { type ModuleLauncher, ModuleSupervisor } from './supervisor.js'

export interface RunModulesOptions {
  dataDir: string
  modules: readonly string[]
  /** Start-up options by module id (checked by the host with `checkModuleSettings` first). */
  moduleOptions?: ModuleOptionsInput
  healthIntervalMs?: number
}

export interface RunningModules {
  readonly orchestrator: Orchestrator
  readonly supervisor: ModuleSupervisor
  /**
   * Stops the modules (each asked to shut down, ended if it has not within the delivery timeout),
   * then the Orchestrator, drains the bus, closes its dead-letter log once the last dead letter is
   * in it, and closes the hub's ports last, so that what the modules publish while they stop is
   * still taken. Once: each host calls it once, however often it is asked to stop.
   */
  stop(): Promise<void>
}

/** Starts the Orchestrator and the modules on `host`'s running bus, each through `launch`. */
export function runModules(
  host: HostBus,
  hub: Hub,
  launch: ModuleLauncher,
  options: RunModulesOptions,
): RunningModules {
  const { bus } = host
  const orchestrator = startOrchestrator(bus, { healthIntervalMs: options.healthIntervalMs })
  // The Orchestrator is registered now: the registry keeps the warnings made while the bus started.
  host.reportHeldWarnings()
  const supervisor = new ModuleSupervisor(bus, hub, launch, {
    dataDir: options.dataDir,
    moduleOptions: options.moduleOptions,
  })
  supervisor.start(options.modules)
  return {
    orchestrator,
    supervisor,
    async stop() {
      const timeoutMs = bus.config.deliveryTimeoutMs
      await supervisor.stop(orchestrator, timeoutMs)
      orchestrator.stop()
      await bus.shutdown({ drainTimeoutMs: timeoutMs })
      await host.deadLetterLog.close()
      hub.close()
    },
  }
}
