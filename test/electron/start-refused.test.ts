/**
 * The Electron host's start with a setup its user got wrong, with Electron's API mocked (the binary
 * is not available here): one line in an error box and exit 1, as the headless host prints one
 * line and exits 1, instead of Electron's report of an uncaught error with its stack.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EventBusError } from '../../src/main/bus/index.js'
import { StartRefused, startFailureLine } from '../../src/main/host/start-failure.js'

const electron = vi.hoisted(() => ({
  userData: '',
  showErrorBox: vi.fn(),
  exit: vi.fn(),
  whenReady: vi.fn(() => new Promise<void>(() => {})),
}))

vi.mock('electron', () => ({
  app: {
    requestSingleInstanceLock: () => true,
    getPath: () => electron.userData,
    whenReady: electron.whenReady,
    on: vi.fn(),
    exit: electron.exit,
    quit: vi.fn(),
  },
  dialog: { showErrorBox: electron.showErrorBox },
  BrowserWindow: class {},
  Menu: {},
  MessageChannelMain: class {},
}))

/** Runs the Electron host's main module afresh, as Electron does at launch. */
async function launch(): Promise<void> {
  vi.resetModules()
  await import('../../src/main/electron/main.js')
}

describe('the Electron host refusing a start', () => {
  beforeEach(async () => {
    electron.userData = await mkdtemp(join(tmpdir(), 'skelly-electron-'))
    electron.showErrorBox.mockClear()
    electron.exit.mockClear()
    electron.whenReady.mockClear()
  })
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it.each([
    ['SKELLY_DIRECT_ROUTES', 'maybe'],
    ['SKELLY_CAPTURE_RATE', 'fast'],
  ])('says which variable is wrong in an error box, and exits 1 (%s=%s)', async (variable, value) => {
    vi.stubEnv(variable, value)
    await launch()
    expect(electron.showErrorBox).toHaveBeenCalledTimes(1)
    const [title, line] = electron.showErrorBox.mock.calls[0] as [string, string]
    expect(title).toBe('Skelly-Jelly could not start')
    expect(line).toMatch(new RegExp(`^Configuration: ${variable} .*'${value}'`))
    expect(line).not.toContain('\n') // no stack
    expect(electron.exit).toHaveBeenCalledWith(1)
    expect(electron.whenReady).not.toHaveBeenCalled() // nothing more was started
  })

  it('says what the system refused in an error box, and exits 1', async () => {
    const file = join(electron.userData, 'a-file')
    await writeFile(file, '')
    electron.userData = file
    await launch()
    expect(electron.showErrorBox).toHaveBeenCalledWith(
      'Skelly-Jelly could not start',
      `ENOTDIR: not a directory, mkdir '${join(file, 'data')}'`,
    )
    expect(electron.exit).toHaveBeenCalledWith(1)
  })
})

describe('startFailureLine', () => {
  it('gives one line for what the user’s setup caused, and nothing for a defect', () => {
    const configuration = EventBusError.of('Configuration', { reason: 'SKELLY_HTTP_PORT must be an integer' })
    expect(startFailureLine(configuration)).toBe(configuration.message)
    expect(startFailureLine(new StartRefused('the data directory is in use'))).toBe(
      'the data directory is in use',
    )
    const system = Object.assign(new Error("EACCES: permission denied, mkdir '/x'"), { syscall: 'mkdir' })
    expect(startFailureLine(system)).toBe("EACCES: permission denied, mkdir '/x'")
    expect(startFailureLine(new TypeError('x is undefined'))).toBeUndefined()
    expect(startFailureLine(EventBusError.of('Disconnected', { reason: 'gone' }))).toBeUndefined()
    expect(startFailureLine('a string thrown')).toBeUndefined()
  })
})
