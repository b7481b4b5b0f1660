/**
 * The Electron host: creates the bus in the main process and opens the app window with the
 * hardened preload. The only main-side code importing 'electron'.
 */
import { join } from 'node:path'
import { app, BrowserWindow } from 'electron'
import { createEventBus } from '../bus/index.js'

const bus = createEventBus()

function openAppWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 900,
    height: 640,
    title: 'Skelly-Jelly',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  })
  const devServer = process.env.ELECTRON_RENDERER_URL
  if (devServer) void window.loadURL(devServer)
  else void window.loadFile(join(import.meta.dirname, '../renderer/index.html'))
  return window
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus())
  void app.whenReady().then(async () => {
    await bus.start()
    openAppWindow()
  })
  app.on('window-all-closed', () => app.quit())
  app.on('will-quit', () => {
    void bus.shutdown()
  })
}
