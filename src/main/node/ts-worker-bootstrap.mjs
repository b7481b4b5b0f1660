// Runs a TypeScript entry (workerData.entry) in a worker thread when the host itself runs from
// source (tests, e2e): tsx must be registered inside the worker before the entry is imported.
import { workerData } from 'node:worker_threads'

const { register } = await import('tsx/esm/api')
register()
await import(workerData.entry)
