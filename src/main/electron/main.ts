/**
 * The Electron host: the bus and hub in the main process, the app and inspector windows, and the
 * modules as utility processes. The only main-side code importing 'electron'; everything it does
 * beyond wiring is shared with the headless host.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { app, BrowserWindow, dialog, Menu, MessageChannelMain } from 'electron'
import { checkModuleSettings } from '../../modules/options.js'
import { readCaptureRate } from '../host/capture-rate.js'
import { directRoutes } from '../host/direct-routes.js'
import { createHostBus } from '../host/host-bus.js'
import { ALL_MODULES } from '../host/modules-list.js'
import { runModules } from '../host/run-modules.js'
import { startFailureLine } from '../host/start-failure.js'
import { createHub } from '../hub/index.js'
import { appMenuTemplate } from './app-menu.js'
import { launchUtilityProcess } from './utility-launcher.js'
import { hardenSessions, openWindow, servePorts } from './windows.js'

/**
 * A start the user's own setup refused (a setting not accepted, a data directory the system
 * refuses): said in an error box (on Linux before the app is ready, on stderr), then exit 1. A
 * defect is thrown on, for Electron's own report with its stack.
 */
function refuseStart(error: unknown): void {
  const line = startFailureLine(error)
  if (line === undefined) throw error
  dialog.showErrorBox('Skelly-Jelly could not start', line)
  app.exit(1)
}

function startHost(): void {
  const dataDir = join(app.getPath('userData'), 'data')
  mkdirSync(dataDir, { recursive: true })
  const host = createHostBus(dataDir)
  const moduleOptions = { 'data-capture': { rate: readCaptureRate() } }
  checkModuleSettings(ALL_MODULES, moduleOptions)
  // Utility processes need Electron's own channel type to receive a port.
  const hub = createHub(host.bus, {
    routes: directRoutes(),
    createChannel: () => {
      const { port1, port2 } = new MessageChannelMain()
      return { port1, port2 }
    },
  })
  let inspector: BrowserWindow | undefined

  const showInspector = () => {
    if (inspector && !inspector.isDestroyed()) inspector.focus()
    else inspector = openWindow('inspector')
  }

  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus())
  void app
    .whenReady()
    .then(async () => {
      hardenSessions()
      await host.bus.start()
      servePorts(hub)
      const running = runModules(host, hub, launchUtilityProcess, {
        dataDir,
        modules: ALL_MODULES,
        moduleOptions,
      })
      Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate(process.platform, showInspector)))
      openWindow('app')
      // Every quit waits for the one stop of the modules and the bus (a second Cmd+Q too, rather
      // than cutting their drain short); app.exit emits no before-quit.
      let quitting = false
      app.on('before-quit', (event) => {
        event.preventDefault()
        if (quitting) return
        quitting = true
        running.stop().then(
          () => app.exit(0),
          (error: unknown) => {
            // Still quits (a quit refused would leave the app unable to close), and says why it is not clean.
            console.error('Skelly-Jelly did not stop cleanly:', error)
            app.exit(1)
          },
        )
      })
    })
    .catch(refuseStart)
  app.on('window-all-closed', () => app.quit())
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  try {
    startHost()
  } catch (error) {
    refuseStart(error)
  }
}
