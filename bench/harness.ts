/** What every benchmark case shares: options, results, worker start-up. */
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

export interface CaseOptions {
  quick: boolean
}

/** One measured number of one variant in one run. */
export interface Measurement {
  metric: string
  unit: string
  value: number
  /** Larger is better (throughput) or smaller (latency, memory). */
  better: 'higher' | 'lower'
}

export type CaseRunner = (variant: string, options: CaseOptions) => Promise<Measurement[]>

export interface CaseDefinition {
  name: string
  title: string
  /** Variants run interleaved; the first ones are the bus, the rest its anchors. */
  variants: string[]
  run: CaseRunner
}

const bootstrap = join(import.meta.dirname, '../src/main/node/ts-worker-bootstrap.mjs')

/** Starts a TypeScript worker from bench/workers. */
export function startWorker(
  name: string,
  workerData: Record<string, unknown>,
  transferList: unknown[] = [],
): Worker {
  return new Worker(bootstrap, {
    workerData: { ...workerData, entry: join(import.meta.dirname, 'workers', `${name}.ts`) },
    transferList: transferList as never,
  })
}

/** Resolves with the first message from `worker` matching `predicate`. */
export function nextMessage<T>(worker: Worker, predicate: (message: T) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (message: T) => {
      if (!predicate(message)) return
      worker.off('message', listener)
      resolve(message)
    }
    worker.on('message', listener)
    worker.once('error', reject)
  })
}

export const throughput = (metric: string, messages: number, ms: number): Measurement => ({
  metric,
  unit: 'msg/s',
  value: (messages / ms) * 1000,
  better: 'higher',
})
