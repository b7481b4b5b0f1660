/** Runs one module in a worker thread: the host passes its id, options and a port in workerData. */
import { type MessagePort, workerData } from 'node:worker_threads'
import { fromNodePort } from '../../shared/port.js'
import { moduleDefinitions } from '../index.js'
import { type RunOptions, runModule } from '../lifecycle.js'

const { moduleId, port, run } = workerData as { moduleId: string; port: MessagePort; run: RunOptions }
const definition = moduleDefinitions[moduleId]
if (definition === undefined) throw new Error(`no module '${moduleId}'`)
// A lost hub ends the worker with an error; the host's supervisor decides what comes next.
await runModule(definition, fromNodePort(port), run)
process.exit(0)
