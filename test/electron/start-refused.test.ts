/**
 * The Electron host's start with a setup its user got wrong, with Electron's API mocked (the binary
 * is not available here): one line in an error box and exit 1, as the headless host prints one
 * line and exits 1, instead of Electron's report of an uncaught error with its stack.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EventBusError } from '../../src/main/bus/index.js'
import { StartRefused, startFailureLine } from '../../src/main/host/start-failure.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('electron')

const electron = vi.hoisted(() => ({
  userData: '',
  showErrorBox: vi.fn(),
  exit: vi.fn(),
  quit: vi.fn(),
  /** Never ready, unless a test says otherwise: what it checks happens before. */
  whenReady: vi.fn(() => new Promise<void>(() => {})),
  singleInstance: vi.fn(() => true),
  getPath: vi.fn(() => electron.userData),
}))

vi.mock('electron', () => ({
  app: {
    requestSingleInstanceLock: electron.singleInstance,
    getPath: electron.getPath,
    whenReady: electron.whenReady,
    on: vi.fn(),
    exit: electron.exit,
    quit: electron.quit,
  },
  dialog: { showErrorBox: electron.showErrorBox },
  BrowserWindow: class {},
  Menu: {},
  MessageChannelMain: class {},
  session: {
    defaultSession: { setPermissionRequestHandler: () => {}, webRequest: { onHeadersReceived: () => {} } },
  },
}))

/** Runs the Electron host's main module afresh, as Electron does at launch. */
async function launch(): Promise<void> {
  vi.resetModules()
  await import('../../src/main/electron/main.js')
}

describe('the Electron host refusing a start', () => {
  beforeEach(async () => {
    electron.userData = await freshDir()
    vi.clearAllMocks()
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

  it('says what the system refused once the app was ready in an error box, and exits 1', async () => {
    // The saved dead letters are read as the bus starts, after Electron is ready.
    await mkdir(join(electron.userData, 'data', 'dead-letters.jsonl'), { recursive: true })
    electron.whenReady.mockResolvedValueOnce(undefined)
    await launch()
    await vi.waitFor(() => expect(electron.exit).toHaveBeenCalledWith(1))
    expect(electron.showErrorBox).toHaveBeenCalledWith(
      'Skelly-Jelly could not start',
      expect.stringMatching(/^EISDIR: illegal operation on a directory, read/),
    )
  })

  it('throws a defect on, for Electron’s report with its stack, rather than a line in a box', async () => {
    const defect = new TypeError('a defect in the host')
    electron.getPath.mockImplementationOnce(() => {
      throw defect
    })
    await expect(launch()).rejects.toBe(defect)
    expect(electron.showErrorBox).not.toHaveBeenCalled()
    expect(electron.exit).not.toHaveBeenCalled()
  })

  it('quits at once, starting nothing, when the app already runs (its window is brought forward there)', async () => {
    electron.singleInstance.mockReturnValueOnce(false)
    await launch()
    expect(electron.quit).toHaveBeenCalledTimes(1)
    expect(electron.getPath).not.toHaveBeenCalled() // no data directory, no bus
    expect(electron.whenReady).not.toHaveBeenCalled()
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
