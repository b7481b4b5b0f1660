/**
 * Opens the app's windows hardened (context isolation, sandbox, no Node, a strict CSP, no
 * navigation, no new windows, no permissions) and hands each a MessagePort to the hub when its
 * preload asks, after every load or reload.
 */
import { join } from 'node:path'
import { BrowserWindow, ipcMain, MessageChannelMain, session, type WebContents } from 'electron'
import { fromElectronPort } from '../../shared/port.js'
import { type WindowName, type WindowSpec, windows } from '../host/windows.js'
import type { Hub } from '../hub/index.js'

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"

/** Which spec each open window's contents belong to. */
const specOf = new Map<WebContents, WindowSpec>()

/** Applies the app-wide hardening once, before any window opens. */
export function hardenSessions(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } })
  })
}

/** Gives a window's preload a fresh channel to the hub, bound to that window's identity. */
export function servePorts(hub: Hub): void {
  ipcMain.on('skelly-bus-request-port', (event) => {
    const spec = specOf.get(event.sender)
    if (spec === undefined) return
    const { port1, port2 } = new MessageChannelMain()
    hub.attach(fromElectronPort(port1), { module: spec.module, permissions: spec.permissions })
    event.sender.postMessage('skelly-bus-port', null, [port2])
  })
}

export function openWindow(name: WindowName): BrowserWindow {
  const spec = windows[name]
  const window = new BrowserWindow({
    width: name === 'inspector' ? 1280 : 900,
    height: name === 'inspector' ? 800 : 640,
    title: spec.title,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      additionalArguments: [`--skelly-module=${spec.module}`],
    },
  })
  const contents = window.webContents
  specOf.set(contents, spec)
  contents.once('destroyed', () => specOf.delete(contents))
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  contents.on('will-navigate', (event) => event.preventDefault())
  const devServer = process.env.ELECTRON_RENDERER_URL
  if (devServer) void window.loadURL(`${devServer}/${spec.page}`)
  else void window.loadFile(join(import.meta.dirname, '../renderer', spec.page))
  return window
}
