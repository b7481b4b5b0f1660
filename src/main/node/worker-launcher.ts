/**
 * Launches modules as worker threads for the headless host. From the build (out/main) a worker
 * runs the bundled runner; from source (tests, e2e) it runs the TypeScript runner through tsx.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import { describeThrown } from '../../shared/errors.js'
import { type ModuleLauncher, type ProcessExit, processExit } from '../host/supervisor.js'

const here = import.meta.dirname ?? fileURLToPath(new URL('.', import.meta.url))
const fromSource = import.meta.url.endsWith('.ts')

function workerFor(workerData: Record<string, unknown>, transferList: MessageChannel['port2'][]): Worker {
  if (!fromSource) return new Worker(join(here, 'module-worker.js'), { workerData, transferList })
  const entry = join(here, '../../modules/runners/worker.ts')
  return new Worker(join(here, 'ts-worker-bootstrap.mjs'), {
    workerData: { ...workerData, entry },
    transferList,
  })
}

export const launchWorker: ModuleLauncher = (moduleId, run) => {
  const { port1, port2 } = new MessageChannel()
  const worker = workerFor({ moduleId, port: port2, run }, [port2])
  // A module's uncaught error ends its worker; the exit, with that error, is what the supervisor
  // acts on (and the registry shows).
  let error: string | undefined
  worker.on('error', (thrown) => {
    error = describeThrown(thrown)
    console.error(`[${moduleId}] ${thrown.message}`)
  })
  const exited = new Promise<ProcessExit>((resolve) =>
    worker.once('exit', (code) => resolve(processExit(code, error))),
  )
  return {
    port: port1,
    exited,
    kill: async () => {
      await worker.terminate()
    },
  }
}
