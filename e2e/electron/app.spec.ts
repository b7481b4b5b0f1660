/**
 * The same flows in the real Electron app, driven by Playwright's _electron. They need Electron's
 * binary, which cannot be downloaded on machines like CI's here: there every spec is reported as
 * skipped, with the reason, and a warning is printed. They never pass without running.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { _electron as electron, expect, test } from '@playwright/test'
import { INSPECTOR_MENU_ID } from '../../src/main/electron/app-menu.js'
import { storedEventIds } from '../event-log.js'
import { numberIn } from '../page-text.js'

function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown
    return typeof path === 'string' && existsSync(path) ? path : undefined
  } catch {
    return undefined
  }
}

const binary = electronBinary()
const SKIP_REASON =
  'SKIPPED: Electron’s binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD); the Electron specs did not run'
if (binary === undefined) console.warn(`\n⚠️  ${SKIP_REASON}\n`)

test.describe('Electron app', () => {
  test.skip(binary === undefined, SKIP_REASON)

  // biome-ignore lint/correctness/noEmptyPattern: Playwright needs the fixtures argument to be destructured.
  test('opens the app window with a connected bus and a reacting pipeline', async ({}, testInfo) => {
    const app = await electron.launch({ executablePath: binary, args: [join(import.meta.dirname, '../..')] })
    const page = await app.firstWindow()
    await expect(page.getByTestId('connection')).toHaveText('open')
    await expect(page.getByTestId('state')).toHaveText(/focused|distracted|idle/, { timeout: 30_000 })
    await page.getByTestId('ask').click()
    await expect(page.getByTestId('ask')).toBeEnabled({ timeout: 15_000 })
    await page.screenshot({ path: testInfo.outputPath('electron-app.png') })
    await app.close()
  })

  test('re-attaches after a reload and refuses a page publishing as another module', async () => {
    const app = await electron.launch({ executablePath: binary, args: [join(import.meta.dirname, '../..')] })
    const page = await app.firstWindow()
    await expect(page.getByTestId('connection')).toHaveText('open')
    await page.reload()
    await expect(page.getByTestId('connection')).toHaveText('open')
    const refused = await page.evaluate(() =>
      window.skellyBus.publish('Shutdown', { moduleId: 'storage', timeoutMs: 0, saveState: false }).then(
        () => 'accepted',
        (error: { kind: string; action?: string }) => error,
      ),
    )
    expect(refused).toMatchObject({ kind: 'Unauthorized', action: 'publish' })
    await app.close()
  })

  test('keeps the window hardened: isolated, sandboxed, no Node, no new windows', async () => {
    const app = await electron.launch({ executablePath: binary, args: [join(import.meta.dirname, '../..')] })
    const page = await app.firstWindow()
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined')
    expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined')
    const prefs = await app.evaluate(({ BrowserWindow }) => {
      const [first] = BrowserWindow.getAllWindows()
      const web = first?.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }
      return web.getLastWebPreferences()
    })
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false })
    await page.evaluate(() => window.open('https://example.com'))
    expect(app.windows()).toHaveLength(1)
    await app.close()
  })

  test('the inspector opened from the View menu shows every endpoint on a MessagePort and the direct routes between utility processes; a killed Storage process falls back and loses no RawEvent', async () => {
    const app = await electron.launch({
      executablePath: binary,
      args: [join(import.meta.dirname, '../..')],
      env: { ...process.env, SKELLY_CAPTURE_RATE: '40' },
    })
    const page = await app.firstWindow()
    await expect(page.getByTestId('connection')).toHaveText('open')
    const opened = app.waitForEvent('window')
    await app.evaluate(
      ({ Menu }, id) => Menu.getApplicationMenu()?.getMenuItemById(id)?.click(),
      INSPECTOR_MENU_ID,
    )
    const inspector = await opened
    await expect(inspector.getByTestId('connection')).toHaveText('open')
    // In Electron every endpoint, windows included, is attached over a MessagePort.
    await inspector.getByTestId('tab-connections').click()
    for (const module of ['cute-figurine', 'inspector', 'data-capture', 'storage'])
      await expect(
        inspector.locator(
          `[data-testid="connection-row"][data-module="${module}"] [data-testid="connection-transport"]`,
        ),
      ).toHaveText('MessagePort', { timeout: 30_000 })
    await inspector.getByTestId('tab-routes').click()
    // The seed routes run on MessageChannelMain pairs between utility processes: DataCapture's
    // RawEvents reach Storage without the main process carrying them.
    for (const producer of ['data-capture', 'analysis-engine', 'gamification'])
      await expect(inspector.getByTestId(`route-state-${producer}`)).toHaveText('active', { timeout: 30_000 })
    await expect
      .poll(async () => numberIn(await inspector.getByTestId('route-delivered-data-capture').textContent()))
      .toBeGreaterThan(20)

    // RawEvents published from here on, as the tail shows them (the route's samples, then the hub's).
    await inspector.evaluate(() => {
      const seen: string[] = []
      ;(globalThis as { rawEventIds?: string[] }).rawEventIds = seen
      window.skellyBus.onTail((entries) => {
        for (const { message } of entries) if (message.payload.type === 'RawEvent') seen.push(message.id)
      })
    })
    const killed = await app.evaluate(({ app }) => {
      const storage = app.getAppMetrics().find((metric) => metric.name === 'skelly-storage')
      if (storage !== undefined) process.kill(storage.pid, 'SIGKILL')
      return storage?.pid
    })
    expect(killed, 'Storage’s utility process (serviceName skelly-storage)').toBeDefined()
    await expect(inspector.getByTestId('route-fallbacks-data-capture')).toHaveText('1', { timeout: 30_000 })
    await expect(inspector.getByTestId('route-state-data-capture')).toHaveText('active', { timeout: 30_000 })
    await inspector.getByTestId('tab-modules').click()
    await expect(inspector.getByTestId('restarts-storage')).toHaveText('1')

    const dataDir = join(await app.evaluate(({ app }) => app.getPath('userData')), 'data')
    const published = async () =>
      inspector.evaluate(() => [...((globalThis as { rawEventIds?: string[] }).rawEventIds ?? [])])
    await expect.poll(async () => (await published()).length, { timeout: 15_000 }).toBeGreaterThan(20)
    const checked = await published()
    await expect
      .poll(
        async () => {
          const stored = await storedEventIds(dataDir)
          return checked.filter((id) => !stored.has(id))
        },
        { timeout: 30_000 },
      )
      .toEqual([])
    await app.close()
  })
})
