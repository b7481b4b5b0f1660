/**
 * The Electron host's hardening, checked against its code with Electron's API mocked (the binary
 * is not available here; e2e/electron checks the same in a real app where it is).
 */
import { EventEmitter } from 'node:events'
import { beforeEach, describe, expect, it, vi } from 'vitest'

const created: { options: Record<string, unknown>; contents: FakeContents }[] = []
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
    constructor(options: Record<string, unknown>) {
      created.push({ options, contents: this.webContents })
    }
    loadFile = vi.fn(async () => {})
    loadURL = vi.fn(async () => {})
  }
  return {
    BrowserWindow,
    MessageChannelMain: class {
      port1 = { on: vi.fn(), postMessage: vi.fn(), start: vi.fn(), close: vi.fn() }
      port2 = {}
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

const { hardenSessions, openWindow } = await import('../../src/main/electron/windows.js')

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
  })
})
