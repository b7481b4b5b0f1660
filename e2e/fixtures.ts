/**
 * A fresh headless host per test (from source, with the built pages from `out/`), with a fast
 * pipeline so things happen within seconds, and a page that fails the test on console errors.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test as base, expect, type Page, type WebSocketRoute } from '@playwright/test'
import {
  BusMessage,
  DeliveryMode,
  type FilterInput,
  type JsonValue,
  MessagePayload,
  type MessageType,
  ModuleId,
} from '../src/main/bus/index.js'
import { windows } from '../src/main/host/windows.js'
import { type HeadlessHost, type HeadlessOptions, startHeadlessHost } from '../src/main/node/headless.js'

/** The build the host serves its pages from (`npm run build`). */
const outDir = join(import.meta.dirname, '..', 'out')

export const fastModules: HeadlessOptions['moduleOptions'] = {
  'data-capture': { rate: 40, phaseMs: 2500 },
  storage: { batchMs: 600, fsyncMs: 100 },
  gamification: { cooldownMs: 1500 },
}

interface Fixtures {
  hostOptions: Partial<HeadlessOptions>
  host: HeadlessHost
  /** Console errors and page errors seen so far on `page`. */
  consoleErrors: string[]
}

export const test = base.extend<Fixtures>({
  hostOptions: [{}, { option: true }],
  host: async ({ hostOptions }, use) => {
    // Without the build every page would answer 503, and a test would time out waiting for it.
    if (!existsSync(join(outDir, 'renderer', windows.app.page)))
      throw new Error(`${outDir} holds no built pages: run npm run build before the end-to-end tests`)
    // A data folder of its own, removed after the host stops, unless the test brings one.
    const dataDir = hostOptions.dataDir ?? (await mkdtemp(join(tmpdir(), 'skelly-e2e-')))
    try {
      const host = await startHeadlessHost({
        outDir,
        httpPort: 0,
        healthIntervalMs: 500,
        reconnectGraceMs: 10_000,
        moduleOptions: fastModules,
        ...hostOptions,
        dataDir,
      })
      await use(host)
      await host.stop()
    } finally {
      if (hostOptions.dataDir === undefined) await rm(dataDir, { recursive: true, force: true })
    }
  },
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })
    page.on('pageerror', (error) => errors.push(error.message))
    await use(errors)
  },
})

/** Waits until every module the host runs has announced itself (ModuleReady) and is Healthy. */
export async function modulesReady(host: HeadlessHost): Promise<void> {
  const modules = host.supervisor.states().map((state) => state.moduleId)
  await expect
    .poll(() => modules.filter((id) => host.bus.registry.get(id)?.status !== 'Healthy'), { timeout: 20_000 })
    .toEqual([])
}

/** Opens the app window once the modules are up, and waits until its bus connection is open. */
export async function openApp(page: Page, host: HeadlessHost): Promise<void> {
  await modulesReady(host)
  await page.goto(host.urls.app)
  await expect(page.getByTestId('connection')).toHaveText('open')
}

/**
 * Routes the page's WebSockets through the test (call it before the page opens), which can drop
 * the open one and refuse new ones for a while, as a lost network does.
 */
export async function droppableSockets(page: Page) {
  let socket: WebSocketRoute | undefined
  let refusing = false
  await page.routeWebSocket(/.*/, (route) => {
    if (refusing) return void route.close()
    socket = route
    route.connectToServer()
  })
  return {
    /** Drops the open socket, and refuses new ones until `reconnect()`. */
    async drop() {
      refusing = true
      await socket?.close()
    },
    /** Lets the page's next socket through. */
    reconnect() {
      refusing = false
    },
  }
}

/** Opens the bus inspector, and waits until its bus connection is open and its first snapshot shown. */
export async function openInspector(page: Page, host: HeadlessHost): Promise<void> {
  await page.goto(host.urls.inspector)
  await expect(page.getByTestId('connection')).toHaveText('open')
  await expect(page.getByTestId('kpi-published-total')).toBeVisible()
}

/**
 * A tip request from Gamification, as the main process would publish it for a module (or a window)
 * to answer; `context` tells it apart from others.
 */
export function gamificationTip(context: JsonValue = {}): BusMessage<'InterventionRequest'> {
  return BusMessage.create(
    ModuleId.Gamification,
    MessagePayload.InterventionRequest({
      requestId: crypto.randomUUID(),
      interventionType: 'tip',
      urgency: 'low',
      context,
    }),
  )
}

/** What the host's bus delivered of the observed messages, as a subscriber in the main process. */
export interface Observed<T extends MessageType> {
  /** Every message seen so far, in the order they were delivered. */
  readonly messages: readonly BusMessage<T>[]
  /**
   * The first message, seen already or still to come, that `matches` (the first of all without it).
   * Rejects after `timeoutMs` (default 10 s), saying how many messages it saw and none matched.
   */
  next(matches?: (message: BusMessage<T>) => boolean, timeoutMs?: number): Promise<BusMessage<T>>
}

/**
 * Subscribes, in the main process, to what `filter` selects (Reliable, as `e2e-observer`), from
 * now on: a test can publish from a page, then wait for the module's answer by what it says.
 * The subscription lasts as long as the test's host.
 */
export async function observe<T extends MessageType>(
  host: HeadlessHost,
  filter: FilterInput<T>,
): Promise<Observed<T>> {
  const messages: BusMessage<T>[] = []
  const waiters = new Set<{
    matches: (message: BusMessage<T>) => boolean
    found: (message: BusMessage<T>) => void
  }>()
  await host.bus.subscribe('e2e-observer', filter, DeliveryMode.Reliable({ timeoutMs: 5000 }), (message) => {
    messages.push(message)
    for (const waiter of waiters) if (waiter.matches(message)) waiter.found(message)
  })
  return {
    messages,
    next(matches = () => true, timeoutMs = 10_000) {
      const seen = messages.find(matches)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no matching message within ${timeoutMs} ms (${messages.length} observed)`))
        }, timeoutMs)
        const waiter = {
          matches,
          found(message: BusMessage<T>) {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve(message)
          },
        }
        waiters.add(waiter)
      })
    },
  }
}

export { expect }
