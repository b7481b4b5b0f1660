/**
 * A fresh headless host per test (from source, with the built pages from `out/`), with a fast
 * pipeline so things happen within seconds, and a page that fails the test on console errors.
 */
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test as base, expect, type Page } from '@playwright/test'
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
    const host = await startHeadlessHost({
      outDir,
      dataDir: await mkdtemp(join(tmpdir(), 'skelly-e2e-')),
      httpPort: 0,
      healthIntervalMs: 500,
      reconnectGraceMs: 10_000,
      moduleOptions: fastModules,
      ...hostOptions,
    })
    await use(host)
    await host.stop()
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

/** Opens the bus inspector, and waits until its bus connection is open and its first snapshot shown. */
export async function openInspector(page: Page, host: HeadlessHost): Promise<void> {
  await page.goto(host.urls.inspector)
  await expect(page.getByTestId('connection')).toHaveText('open')
  await expect(page.getByTestId('kpi-published-total')).toBeVisible()
}

export { expect }
