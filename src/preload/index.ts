/**
 * The Electron preload: asks the main process for a MessagePort to the hub and exposes the bus as
 * `window.skellyBus` through the context bridge. The raw port never reaches page scripts. The
 * window's identity is bound by the main process (passed as an argument, not chosen here).
 */
import { contextBridge, ipcRenderer } from 'electron'
import { connectWindowBus } from '../shared/client.js'
import { fromDomPort } from '../shared/port.js'
import { createWindowApi } from './window-api.js'

const MODULE_ARGUMENT = '--skelly-module='
const module =
  process.argv.find((arg) => arg.startsWith(MODULE_ARGUMENT))?.slice(MODULE_ARGUMENT.length) ?? ''

/** Each (re)connection asks the main process for a fresh channel. */
function requestPort(): Promise<MessagePort> {
  return new Promise((resolve, reject) => {
    ipcRenderer.once('skelly-bus-port', (event) => {
      const [port] = event.ports
      if (port) resolve(port)
      else reject(new Error('the main process sent no port'))
    })
    ipcRenderer.send('skelly-bus-request-port')
  })
}

contextBridge.exposeInMainWorld(
  'skellyBus',
  createWindowApi(module, async () => connectWindowBus(fromDomPort(await requestPort()), { module })),
)
