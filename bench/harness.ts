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
      worker.off('error', failed)
      resolve(message)
    }
    const failed = (error: unknown) => {
      worker.off('message', listener)
      reject(error)
    }
    worker.on('message', listener)
    worker.once('error', failed)
  })
}

export const throughput = (metric: string, messages: number, ms: number): Measurement => ({
  metric,
  unit: 'msg/s',
  value: (messages / ms) * 1000,
  better: 'higher',
})

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
