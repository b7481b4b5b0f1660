/**
 * The headless host: the same bus, hub, orchestrator and modules as the Electron app, without
 * Electron. Modules run as worker threads; the app window and the inspector are pages served on
 * 127.0.0.1 whose browser bridge reaches the hub over a loopback WebSocket.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { checkModuleSettings, type ModuleOptionsInput } from '../../modules/options.js'
import type { EventBus, EventBusConfigInput } from '../bus/index.js'
import { directRoutes } from '../host/direct-routes.js'
import { createHostBus } from '../host/host-bus.js'
import { ALL_MODULES } from '../host/modules-list.js'
import type { Orchestrator } from '../host/orchestrator.js'
import { runModules } from '../host/run-modules.js'
import type { ModuleSupervisor } from '../host/supervisor.js'
import { type WindowName, type WindowSpec, windows } from '../host/windows.js'
import { createHub, type Hub, type RouteSpec } from '../hub/index.js'
import { lockDataDir } from './data-dir-lock.js'
import { type PageServer, startPageServer } from './http-server.js'
import { launchWorker } from './worker-launcher.js'
import { type Gateway, startGateway } from './ws-gateway.js'

export interface HeadlessOptions {
  /** The build output (`out/`) holding renderer/ and bridge/. */
  outDir: string
  /** Where Storage writes; created if missing. */
  dataDir: string
  httpPort?: number
  bus?: EventBusConfigInput
  reconnectGraceMs?: number
  healthIntervalMs?: number
  /** Modules to run (default: all). */
  modules?: readonly string[]
  /** Start-up options by module id, e.g. `{ storage: { batchMs: 600 } }` (see `moduleOptionSchemas`). */
  moduleOptions?: ModuleOptionsInput
  /** Direct routes between modules (default: the seed routes unless SKELLY_DIRECT_ROUTES=off). */
  routes?: RouteSpec[]
  /**
   * Grants of the app's windows by window name, in place of those `windows` gives them: a test of
   * a window feature the app's own grants do not use (a window answering requests) grants it here.
   */
  windowPermissions?: Partial<Record<WindowName, WindowSpec['permissions']>>
}

export interface HeadlessHost {
  readonly bus: EventBus
  readonly hub: Hub
  readonly gateway: Gateway
  readonly orchestrator: Orchestrator
  readonly supervisor: ModuleSupervisor
  /** Where Storage writes. */
  readonly dataDir: string
  /** Page URLs by window name. */
  readonly urls: Record<WindowName, string>
  /** Drains the bus, stops the modules, closes servers. */
  stop(): Promise<void>
}

/**
 * Starts the host on `dataDir`, which it holds until `stop()` (one host per data directory).
 * @throws DataDirInUseError when another running host holds `dataDir`; the server's error when it
 * cannot listen (`EADDRINUSE` …); EventBusError `Configuration` for invalid settings (a module or
 * module option that is not one, checked before anything starts). Whatever had started is stopped
 * again, and the data directory is free.
 */
export async function startHeadlessHost(options: HeadlessOptions): Promise<HeadlessHost> {
  checkModuleSettings(options.modules ?? ALL_MODULES, options.moduleOptions)
  await mkdir(options.dataDir, { recursive: true })
  const unlockDataDir = await lockDataDir(options.dataDir)
  try {
    return await startOnLockedDataDir(options, unlockDataDir)
  } catch (error) {
    await unlockDataDir()
    throw error
  }
}

async function startOnLockedDataDir(
  options: HeadlessOptions,
  unlockDataDir: () => Promise<void>,
): Promise<HeadlessHost> {
  const routes = options.routes ?? directRoutes()
  const host = createHostBus(options.dataDir, options.bus)
  const { bus } = host
  await bus.start()
  // Modules are worker threads here: the runtime's MessageChannel makes their direct channels.
  const hub = createHub(bus, { reconnectGraceMs: options.reconnectGraceMs ?? 30_000, routes })
  let gateway: Gateway | undefined
  let pages: PageServer | undefined
  const endpointOf = (name: WindowName) => () => {
    const spec = windows[name]
    return `${gateway?.url}/?token=${encodeURIComponent(gateway?.tokenFor(spec.module) ?? '')}`
  }
  try {
    pages = await startPageServer({
      rendererDir: join(options.outDir, 'renderer'),
      bridgeScript: join(options.outDir, 'bridge', 'skelly-bridge.js'),
      port: options.httpPort,
      gatewayOrigin: () => gateway?.url ?? '',
      pages: [
        { path: '/', file: windows.app.page, module: windows.app.module, endpoint: endpointOf('app') },
        {
          path: '/inspector',
          file: windows.inspector.page,
          module: windows.inspector.module,
          endpoint: endpointOf('inspector'),
        },
      ],
    })
    gateway = await startGateway(hub, {
      modules: Object.entries(windows).map(([name, { module, permissions }]) => ({
        module,
        permissions: options.windowPermissions?.[name as WindowName] ?? permissions,
      })),
      // A page opened as localhost is the same page: its socket is welcome too.
      allowedOrigins: [...pages.origins],
    })
  } catch (error) {
    // A server could not listen: nothing ran yet, so nothing needs draining.
    await pages?.close()
    await bus.shutdown({ drainTimeoutMs: 0 })
    await host.deadLetterLog.close()
    hub.close()
    throw error
  }
  const running = runModules(host, hub, launchWorker, {
    dataDir: options.dataDir,
    modules: options.modules ?? ALL_MODULES,
    moduleOptions: options.moduleOptions,
    healthIntervalMs: options.healthIntervalMs,
  })

  let stopping: Promise<void> | undefined
  return {
    bus,
    hub,
    gateway,
    orchestrator: running.orchestrator,
    supervisor: running.supervisor,
    dataDir: options.dataDir,
    urls: { app: `${pages.origin}/`, inspector: `${pages.origin}/inspector` },
    stop() {
      stopping ??= (async () => {
        await running.stop()
        await gateway?.close()
        await pages.close()
        await unlockDataDir()
      })()
      return stopping
    },
  }
}
