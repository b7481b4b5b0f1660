// A simulated Electron utility process (see simulated-electron.ts): a worker thread that gives its
// entry the `process.parentPort` Electron provides, delivering `{ data, ports }` with
// MessagePortMain-like ports. tsx is registered first so that the entry can be TypeScript.
import { EventEmitter } from 'node:events'
import { parentPort, workerData } from 'node:worker_threads'

const { register } = await import('tsx/esm/api')
register()
const { received } = await import('./simulated-electron.ts')
process.parentPort = new EventEmitter()
await import(workerData.entry)
// Only now that the entry listens: what the host posted meanwhile waited in the worker's port.
parentPort.on('message', (value) => process.parentPort.emit('message', received(value)))
