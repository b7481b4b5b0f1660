/** What every benchmark case shares: options, results, worker and process start-up. */
import { type ChildProcess, spawn } from 'node:child_process'
import { basename, join } from 'node:path'
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

/**
 * A benchmark process of its own (Node run with `args`, from the project's root), spoken to over
 * IPC: it sends reports, and takes commands.
 */
export class BenchProcess<Report> {
  readonly process: ChildProcess

  /** The script it runs, to name it in errors. */
  private readonly script: string

  constructor(args: string[]) {
    this.script = basename(args.find((arg) => /\.[cm]?[jt]s$/.test(arg)) ?? args.join(' '))
    this.process = spawn(process.execPath, args, {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
  }

  /** Resolves with the next report matching `predicate`; rejects if the process exits first. */
  next<T extends Report>(predicate: (report: Report) => report is T): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (report: Report) => {
        if (!predicate(report)) return
        this.process.off('message', listener)
        this.process.off('exit', exited)
        resolve(report)
      }
      const exited = (code: number | null) => {
        this.process.off('message', listener)
        reject(new Error(`the benchmark process ${this.script} exited (${code}) before it answered`))
      }
      this.process.on('message', listener)
      this.process.once('exit', exited)
    })
  }

  /** Sends `command`, which has no answer. */
  tell(command: object): void {
    this.process.send(command)
  }

  /** Sends `command` and resolves with the report matching `predicate` that answers it. */
  ask<T extends Report>(command: object, predicate: (report: Report) => report is T): Promise<T> {
    const answer = this.next(predicate)
    this.tell(command)
    return answer
  }
}

/** A predicate for `BenchProcess` reports: those that have `key`. */
export const has =
  <K extends string>(key: K) =>
  <R extends object>(report: R): report is Extract<R, Record<K, unknown>> =>
    key in report
