/**
 * The preload bridge. For now it tells the page which runtime it runs in; the bus API
 * (`window.skellyBus`) is exposed here once the hub attaches windows.
 */
import { contextBridge } from 'electron'

contextBridge.exposeInMainWorld('skellyRuntime', {
  kind: 'electron',
  versions: { electron: process.versions.electron, chrome: process.versions.chrome },
})
