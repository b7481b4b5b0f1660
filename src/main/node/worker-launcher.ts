/**
 * Launches modules as worker threads for the headless host. From the build (out/main) a worker
 * runs the bundled runner; from source (tests, e2e) it runs the TypeScript runner through tsx.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import type { ModuleLauncher } from '../host/supervisor.js'

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
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  // A module's uncaught error ends its worker; the exit is what the supervisor acts on.
  worker.on('error', (error) => console.error(`[${moduleId}] ${error.message}`))
  return {
    port: port1,
    exited,
    kill: async () => {
      await worker.terminate()
    },
  }
}
