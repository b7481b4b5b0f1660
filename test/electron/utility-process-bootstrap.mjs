// A simulated Electron utility process (see simulated-electron.ts): a worker thread that gives its
// entry the `process.parentPort` Electron provides, delivering `{ data, ports }` with
// MessagePortMain-like ports. tsx is registered first so that the entry can be TypeScript.
import { EventEmitter } from 'node:events'
import { parentPort, workerData } from 'node:worker_threads'

const { register } = await import('tsx/esm/api')
register()
const { received } = await import('./simulated-electron.ts')
process.parentPort = new EventEmitter()
// What the entry sends the main process arrives as the UtilityProcess's 'message' event.
process.parentPort.postMessage = (message) => parentPort.postMessage(message)
await import(workerData.entry)
// Only now that the entry listens: what the host posted meanwhile waited in the worker's port.
parentPort.on('message', (value) => {
  // The test's stand-in for a defect in the module: an error nothing catches.
  if (value?.simulatedCrash !== undefined) {
    setTimeout(() => {
      throw new Error(value.simulatedCrash)
    })
    return
  }
  process.parentPort.emit('message', received(value))
})
