/**
 * The Electron host's quit when stopping fails (the dead-letter log cannot be closed, say), with
 * Electron's API mocked: it still exits, with 1, and says why, instead of hanging with every later
 * quit ignored and the failure an unhandled rejection.
 */
import { expect, it, onTestFinished, vi } from 'vitest'
import type { HostBus } from '../../src/main/host/host-bus.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('electron-quit')

const electron = vi.hoisted(() => ({
  userData: '',
  appHandlers: new Map<string, (event: { preventDefault(): void }) => void>(),
  exit: vi.fn(),
  quit: vi.fn(),
  host: undefined as HostBus | undefined,
}))

vi.mock('electron', async () => ({
  app: (await import('./simulated-electron.js')).simulatedApp(electron),
  dialog: { showErrorBox: vi.fn() },
  BrowserWindow: class {},
  Menu: { buildFromTemplate: vi.fn(), setApplicationMenu: vi.fn() },
  MessageChannelMain: class {},
}))
// The windows and the modules' processes are not what this checks; the stop is made to fail.
vi.mock('../../src/main/electron/windows.js', () => ({
  hardenSessions: vi.fn(),
  openWindow: vi.fn(),
  servePorts: vi.fn(),
}))
// The host's bus is real: kept, to be shut after the test, since the failed stop did not.
vi.mock('../../src/main/host/host-bus.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/main/host/host-bus.js')>()
  return { ...actual, createHostBus: (dataDir: string) => (electron.host = actual.createHostBus(dataDir)) }
})
vi.mock('../../src/main/host/run-modules.js', () => ({
  runModules: () => ({ stop: () => Promise.reject(new Error('the dead-letter log could not be closed')) }),
}))

it('exits with 1 and says why when stopping fails, however often the user quits', async () => {
  electron.userData = await freshDir()
  const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
  onTestFinished(async () => {
    logged.mockRestore()
    await electron.host?.bus.shutdown({ drainTimeoutMs: 0 })
    await electron.host?.deadLetterLog.close()
  })
  await import('../../src/main/electron/main.js')
  await vi.waitFor(() => expect(electron.appHandlers.has('before-quit')).toBe(true))
  const quit = electron.appHandlers.get('before-quit')
  quit?.({ preventDefault() {} })
  quit?.({ preventDefault() {} })
  await vi.waitFor(() => expect(electron.exit).toHaveBeenCalled())
  expect(electron.exit.mock.calls).toEqual([[1]])
  expect(logged).toHaveBeenCalledWith(
    'Skelly-Jelly did not stop cleanly:',
    expect.objectContaining({ message: 'the dead-letter log could not be closed' }),
  )
})
