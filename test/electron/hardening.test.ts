/**
 * The Electron host's windows, checked against its code with Electron's API mocked (the binary
 * is not available here; e2e/electron checks the same in a real app where it is): their hardening,
 * the page each loads, and the port each is handed, to no one else.
 */
import { EventEmitter } from 'node:events'
import { beforeEach, describe, expect, it, vi } from 'vitest'

interface Created {
  options: Record<string, unknown>
  contents: FakeContents
  loadFile: ReturnType<typeof vi.fn>
  loadURL: ReturnType<typeof vi.fn>
}
const created: Created[] = []
const handlers: Record<string, unknown> = {}

class FakeContents extends EventEmitter {
  openHandler?: () => { action: string }
  setWindowOpenHandler(handler: () => { action: string }) {
    this.openHandler = handler
  }
  postMessage = vi.fn()
}

vi.mock('electron', () => {
  class BrowserWindow {
    webContents = new FakeContents()
    loadFile = vi.fn(async () => {})
    loadURL = vi.fn(async () => {})
    constructor(options: Record<string, unknown>) {
      created.push({ options, contents: this.webContents, loadFile: this.loadFile, loadURL: this.loadURL })
    }
  }
  return {
    BrowserWindow,
    MessageChannelMain: class {
      port1 = { on: vi.fn(), postMessage: vi.fn(), start: vi.fn(), close: vi.fn() }
      port2 = { handedOut: true }
    },
    ipcMain: { on: (channel: string, handler: unknown) => (handlers[channel] = handler) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (handler: unknown) => (handlers.permission = handler),
        webRequest: { onHeadersReceived: (handler: unknown) => (handlers.headers = handler) },
      },
    },
  }
})

const { hardenSessions, openWindow, servePorts } = await import('../../src/main/electron/windows.js')
const { windows } = await import('../../src/main/host/windows.js')

describe('Electron hardening', () => {
  beforeEach(() => {
    created.length = 0
  })

  it.each(['app', 'inspector'] as const)(
    'opens the %s window isolated, sandboxed and without Node',
    (name) => {
      openWindow(name)
      const [{ options, contents }] = created as [(typeof created)[number]]
      expect(options.webPreferences).toMatchObject({
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
        additionalArguments: [expect.stringMatching(/^--skelly-module=(cute-figurine|inspector)$/)],
      })
      expect(contents.openHandler?.()).toEqual({ action: 'deny' })
      const navigation = { preventDefault: vi.fn() }
      contents.emit('will-navigate', navigation)
      expect(navigation.preventDefault).toHaveBeenCalled()
    },
  )

  it('denies every permission request and sends a strict CSP', () => {
    hardenSessions()
    const decide = vi.fn()
    ;(handlers.permission as (c: unknown, p: string, cb: (ok: boolean) => void) => void)({}, 'media', decide)
    expect(decide).toHaveBeenCalledWith(false)
    const respond = vi.fn()
    ;(handlers.headers as (d: unknown, cb: (r: unknown) => void) => void)({ responseHeaders: {} }, respond)
    const [[response]] = respond.mock.calls as [[{ responseHeaders: Record<string, string[]> }]]
    const csp = response.responseHeaders['Content-Security-Policy']?.[0]
    expect(csp).toContain("default-src 'self'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    // The page's other headers go through as they came.
    respond.mockClear()
    ;(handlers.headers as (d: unknown, cb: (r: unknown) => void) => void)(
      { responseHeaders: { 'Content-Type': ['text/html'] } },
      respond,
    )
    expect(respond.mock.calls[0]?.[0]).toMatchObject({ responseHeaders: { 'Content-Type': ['text/html'] } })
  })

  it('loads the built page, or the dev server’s while electron-vite serves one', () => {
    openWindow('inspector')
    expect(created[0]?.loadFile).toHaveBeenCalledWith(expect.stringMatching(/\/renderer\/inspector\.html$/))
    expect(created[0]?.loadURL).not.toHaveBeenCalled()
    vi.stubEnv('ELECTRON_RENDERER_URL', 'http://localhost:5173')
    try {
      openWindow('app')
      expect(created[1]?.loadURL).toHaveBeenCalledWith('http://localhost:5173/index.html')
      expect(created[1]?.loadFile).not.toHaveBeenCalled()
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('hands a port bound to its identity to each window that asks, and to nothing else', () => {
    const hub = { attach: vi.fn() }
    servePorts(hub as never)
    const requestPort = handlers['skelly-bus-request-port'] as (event: { sender: unknown }) => void
    openWindow('inspector')
    const [{ contents }] = created as [Created]
    requestPort({ sender: contents })
    expect(hub.attach).toHaveBeenCalledTimes(1)
    expect(hub.attach.mock.calls[0]?.[1]).toEqual({
      module: 'inspector',
      permissions: windows.inspector.permissions,
    })
    expect(contents.postMessage).toHaveBeenCalledWith('skelly-bus-port', null, [{ handedOut: true }])
    // Contents the host did not open (a devtools window, say), and a window once it is gone.
    requestPort({ sender: new FakeContents() })
    contents.emit('destroyed')
    requestPort({ sender: contents })
    expect(hub.attach).toHaveBeenCalledTimes(1)
    expect(contents.postMessage).toHaveBeenCalledTimes(1)
  })
})
