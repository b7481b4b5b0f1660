/**
 * The Electron host's own code (src/main/electron) run whole, with Electron's message-carrying
 * parts simulated on worker_threads (simulated-electron.ts: MessagePortMain that delivers nothing
 * before `start()`, utility processes with `process.parentPort`) and its windows reduced to what
 * the host asks of them. Electron's binary cannot run here; this checks what the host wires
 * together: modules in utility processes restarted when they die, direct routes over
 * MessageChannelMain, a window's port handed out when its preload asks, and the quit sequence.
 * The app window runs the real preload (src/preload/index.ts) on the DOM MessagePort it is handed;
 * the inspector's side is a `connectBus` client on its port, as that preload makes.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DeliveryMode, ModuleId } from '../../src/main/bus/index.js'
import type { SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { type BusClient, connectBus, type DomMessagePortLike, fromDomPort } from '../../src/shared/index.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'
import type { SimulatedUtilityProcess, SimulatedWebContents } from './simulated-electron.js'

const freshDir = tempDirsRemovedAfterAll('electron-host')

/** What the host did with the simulated Electron: recorded for the test to act on. */
const electron = vi.hoisted(() => ({
  userData: '',
  appHandlers: new Map<string, (event: { preventDefault(): void }) => void>(),
  portRequests: new Map<string, (event: { sender: unknown }) => void>(),
  menu: [] as { label?: string; submenu?: { label?: string; click?: () => void }[] }[],
  windows: [] as { webContents: SimulatedWebContents; focused: number; destroyed: boolean }[],
  /** The hardening and the windows, in the order the host made them. */
  made: [] as string[],
  processes: new Map<string, SimulatedUtilityProcess>(),
  /** What the app window's preload exposed to its page. */
  exposed: new Map<string, unknown>(),
  exit: vi.fn(),
  quit: vi.fn(),
}))

vi.mock('electron', async () => {
  const { SimulatedChannelMain, SimulatedUtilityProcess, SimulatedWebContents, simulatedApp } = await import(
    './simulated-electron.js'
  )
  const { join } = await import('node:path')
  const utilityEntry = join(import.meta.dirname, '../../src/modules/runners/utility.ts')
  class BrowserWindow {
    readonly webContents = new SimulatedWebContents()
    focused = 0
    destroyed = false
    constructor() {
      electron.windows.push(this)
      electron.made.push('window')
    }
    static getAllWindows() {
      return electron.windows.filter((window) => !window.destroyed)
    }
    async loadFile() {}
    async loadURL() {}
    isDestroyed() {
      return this.destroyed
    }
    focus() {
      this.focused += 1
    }
  }
  /** The IPC of the app window's renderer, where its preload runs; gone once the app exited. */
  const appRenderer = () =>
    electron.exit.mock.calls.length > 0 ? undefined : electron.windows[0]?.webContents
  return {
    app: simulatedApp(electron),
    dialog: {
      showErrorBox: (title: string, line: string) => {
        throw new Error(`${title}: ${line}`)
      },
    },
    BrowserWindow,
    Menu: {
      buildFromTemplate: (template: typeof electron.menu) => {
        electron.menu = template
        return template
      },
      setApplicationMenu: () => {},
    },
    MessageChannelMain: SimulatedChannelMain,
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => electron.exposed.set(key, api) },
    ipcRenderer: {
      once: (channel: string, listener: (event: { ports: unknown[] }) => void) =>
        appRenderer()?.renderer.once(channel, listener),
      send: (channel: string) => {
        const sender = appRenderer()
        if (sender !== undefined) electron.portRequests.get(channel)?.({ sender })
      },
    },
    ipcMain: {
      on: (channel: string, handler: (event: { sender: unknown }) => void) =>
        electron.portRequests.set(channel, handler),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: () => electron.made.push('permissions denied'),
        webRequest: { onHeadersReceived: () => electron.made.push('CSP') },
      },
    },
    utilityProcess: {
      fork: (modulePath: string, _args: string[], options: { serviceName: string }) => {
        // The host forks the runner electron-vite builds; here it runs from source.
        if (!modulePath.endsWith('module-utility.js'))
          throw new Error(`unexpected utility entry ${modulePath}`)
        const child = new SimulatedUtilityProcess(utilityEntry)
        electron.processes.set(options.serviceName, child)
        return child
      },
    },
  }
})

/** Connects as a window's preload does at load: asks for a port, and connects through it. */
async function connectWindow(index: number, module: string): Promise<BusClient> {
  const contents = electron.windows[index]?.webContents
  if (contents === undefined) throw new Error(`no window ${index}`)
  const handedOut = new Promise<DomMessagePortLike>((resolve) =>
    contents.renderer.once('skelly-bus-port', ({ ports }: { ports: DomMessagePortLike[] }) =>
      resolve(ports[0] as DomMessagePortLike),
    ),
  )
  electron.portRequests.get('skelly-bus-request-port')?.({ sender: contents })
  return connectBus(fromDomPort(await handedOut), { module })
}

/** The inspector's metrics once `check` passes on them (retried until it does, for 30 s). */
async function until(inspector: BusClient, check: (metrics: BusMetrics) => void): Promise<BusMetrics> {
  return vi.waitFor(
    async () => {
      const metrics = await inspector.metrics()
      check(metrics)
      return metrics
    },
    { timeout: 30_000, interval: 200 },
  )
}

const routeOf = (metrics: BusMetrics, producer: string) => metrics.routes.find((r) => r.producer === producer)

/** View → Bus inspector, as the user opens it. */
function chooseBusInspector(): void {
  const view = electron.menu.find((item) => item.label === 'View')
  view?.submenu?.find((item) => item.label === 'Bus inspector')?.click?.()
}

/** What Electron passes the app window's preload (`additionalArguments`): its identity. */
const APP_ARGUMENT = '--skelly-module=cute-figurine'

describe('the Electron host, its Electron parts simulated', () => {
  let app: SkellyBusApi
  let inspector: BusClient

  beforeAll(async () => {
    electron.userData = await freshDir()
    // Busy enough that Storage has deliveries in flight when it is killed (see below).
    vi.stubEnv('SKELLY_CAPTURE_RATE', '150')
    await import('../../src/main/electron/main.js')
    // Once the app is ready: the bus started, the modules launched, the app window opened.
    await vi.waitFor(() => expect(electron.windows).toHaveLength(1), { timeout: 10_000 })
    // The app window's preload, with the identity the host passes it as an argument.
    process.argv.push(APP_ARGUMENT)
    await import('../../src/preload/index.js')
    app = electron.exposed.get('skellyBus') as SkellyBusApi
    chooseBusInspector()
    inspector = await connectWindow(1, 'inspector')
  }, 60_000)

  afterAll(() => {
    for (const child of electron.processes.values()) child.kill()
    vi.unstubAllEnvs()
    process.argv.splice(process.argv.indexOf(APP_ARGUMENT), 1)
  })

  it('runs every module in a utility process, the hot paths over MessageChannelMain routes', async () => {
    const metrics = await until(inspector, (m) => {
      expect(m.routes.map((route) => `${route.producer} ${route.state}`).sort()).toEqual([
        'analysis-engine active',
        'data-capture active',
        'gamification active',
      ])
      expect(routeOf(m, ModuleId.DataCapture)?.delivered).toBeGreaterThan(0)
    })
    expect([...electron.processes.keys()].sort()).toEqual(
      ['ai-integration', 'analysis-engine', 'data-capture', 'gamification', 'storage'].map(
        (id) => `skelly-${id}`,
      ),
    )
    // SKELLY_CAPTURE_RATE reaches DataCapture, with the module's id and the data folder.
    expect(electron.processes.get('skelly-data-capture')?.posted[0]).toEqual({
      moduleId: 'data-capture',
      run: { dataDir: join(electron.userData, 'data'), options: { rate: 150 } },
    })
    expect(metrics.registry.modules.map((m) => m.moduleId)).toEqual(
      expect.arrayContaining([
        'data-capture',
        'storage',
        'analysis-engine',
        'gamification',
        'ai-integration',
      ]),
    )
    // Every endpoint, the two windows too, is attached over a MessagePort, as the inspector shows.
    expect(
      metrics.connections?.map((connection) => `${connection.module} ${connection.transport}`).sort(),
    ).toEqual(
      [
        'ai-integration',
        'analysis-engine',
        'cute-figurine',
        'data-capture',
        'gamification',
        'inspector',
        'storage',
      ].map((module) => `${module} port`),
    )
  }, 60_000)

  it('answers the app window: a request its preload publishes reaches AiIntegration and comes back', async () => {
    const requestId = crypto.randomUUID()
    const answered = new Promise<string>((resolve) => {
      void app.subscribe({ types: ['InterventionResponse'] }, DeliveryMode.BestEffort, (message) => {
        if (message.payload.data.requestId === requestId) resolve(message.payload.data.responseText)
      })
    })
    await app.publish('InterventionRequest', {
      requestId,
      interventionType: 'tip',
      urgency: 'low',
      context: {},
    })
    expect(await answered).not.toBe('')
    expect(app.module).toBe(ModuleId.CuteFigurine)
  }, 30_000)

  it('restarts a utility process that died, sets its route up again, and Storage loses no RawEvent', async () => {
    // What DataCapture publishes, as the inspector's tail shows it (a route's producer samples up to
    // 200 a second for it, so at 150 a second nearly all of it).
    const published = new Set<string>()
    const stopTail = await inspector.onTail((entries) => {
      for (const { message } of entries)
        if (message.source === ModuleId.DataCapture && message.payload.type === 'RawEvent')
          published.add(message.id)
    })
    await vi.waitFor(() => expect(published.size).toBeGreaterThan(10), { timeout: 10_000 })
    const before = await inspector.metrics()
    const delivered = routeOf(before, ModuleId.DataCapture)?.delivered ?? 0
    electron.processes.get('skelly-storage')?.kill()
    const after = await until(inspector, (m) => {
      const route = routeOf(m, ModuleId.DataCapture)
      expect(m.registry.modules.find((module) => module.moduleId === ModuleId.Storage)?.restarts).toBe(1)
      expect(route).toMatchObject({ state: 'active', fallbacks: 1 })
      expect(route?.delivered).toBeGreaterThan(delivered)
    })
    expect(routeOf(after, ModuleId.DataCapture)?.established).toBeGreaterThanOrEqual(2)
    stopTail()
    // What was published until now, before, during and after the fallback, is in Storage's file.
    const checked = [...published]
    await vi.waitFor(
      async () => {
        const lines = (await readFile(join(electron.userData, 'data', 'events.jsonl'), 'utf8'))
          .trim()
          .split('\n')
        const stored = new Set(lines.map((line) => (JSON.parse(line) as { id: string }).id))
        expect(checked.filter((id) => !stored.has(id))).toEqual([])
      },
      { timeout: 30_000, interval: 250 },
    )
  }, 90_000)

  it('says in the registry which error a utility process died of (the first), and starts it again', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const gamification = electron.processes.get('skelly-gamification')
    // The cause, then an error that follows from it while the process ends: the cause is reported.
    gamification?.crash('a defect in Gamification')
    gamification?.crash('what followed from it')
    await until(inspector, (m) => {
      const gamification = m.registry.modules.find((module) => module.moduleId === ModuleId.Gamification)
      expect(gamification?.lastExit).toMatchObject({ code: 1, error: 'Error: a defect in Gamification' })
      expect(gamification?.restarts).toBe(1)
      expect(gamification?.status).toBe('Healthy')
    })
    logged.mockRestore()
  }, 60_000)

  it('logs a fatal error a utility process reports, and goes on', () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    // Electron emits 'error' before the process exits; an event nobody hears would throw here.
    electron.processes.get('skelly-analysis-engine')?.emit('error', 'FatalError', 'v8::Isolate', '{}')
    expect(logged).toHaveBeenCalledWith('[analysis-engine] FatalError at v8::Isolate')
    logged.mockRestore()
  })

  it('hardens the session before it opens a window', () => {
    expect(electron.made.slice(0, 3)).toEqual(['permissions denied', 'CSP', 'window'])
  })

  it('opens one inspector: choosing it again brings it forward, and opens another once it is closed', () => {
    const [, opened] = electron.windows
    chooseBusInspector()
    expect(electron.windows).toHaveLength(2)
    expect(opened?.focused).toBe(1)
    if (opened) opened.destroyed = true
    chooseBusInspector()
    expect(electron.windows).toHaveLength(3)
    expect(opened?.focused).toBe(1)
  })

  it('brings its window forward when launched again, and quits once every window is closed', () => {
    electron.appHandlers.get('second-instance')?.({ preventDefault() {} })
    expect(electron.windows[0]?.focused).toBe(1)
    expect(electron.quit).not.toHaveBeenCalled()
    electron.appHandlers.get('window-all-closed')?.({ preventDefault() {} })
    expect(electron.quit).toHaveBeenCalledTimes(1)
  })

  it('quits in order: modules stopped, the bus drained, every utility process gone, exit 0', async () => {
    const exited = [...electron.processes.values()].map(
      (child) => new Promise<number>((resolve) => child.once('exit', resolve)),
    )
    const closed = new Promise<void>((resolve) => inspector.onClose(() => resolve()))
    const quitting = { preventDefault: vi.fn() }
    electron.appHandlers.get('before-quit')?.(quitting)
    // Quit again (a second Cmd+Q) while the modules stop: that waits for the same stop.
    electron.appHandlers.get('before-quit')?.(quitting)
    expect(quitting.preventDefault).toHaveBeenCalledTimes(2)
    await expect.poll(() => electron.exit.mock.calls, { timeout: 30_000 }).toEqual([[0]])
    // Each module's run ended at its Shutdown, and its process with it, cleanly.
    expect(await Promise.all(exited)).toEqual(exited.map(() => 0))
    await closed
  }, 60_000)
})
