/** Test harness: an endpoint agent in a real worker thread, attached to a hub through a MessageChannel. */
import { resolve } from 'node:path'
import { MessageChannel, Worker } from 'node:worker_threads'
import type { Attachment, AttachOptions, Hub } from '../../src/main/hub/index.js'
import type { AgentRequest } from '../fixtures/endpoint-agent.js'

const bootstrap = resolve(import.meta.dirname, '../../src/main/node/ts-worker-bootstrap.mjs')
const agent = resolve(import.meta.dirname, '../fixtures/endpoint-agent.ts')

export interface ReceivedEntry {
  subscriptionId: string
  id: string
  type: string
  eventType?: string
  data: unknown
}

export interface WorkerEndpoint {
  readonly attachment: Attachment
  /** Every delivery the agent's handlers saw, reported as it happened (kept after termination). */
  readonly received: ReceivedEntry[]
  call<T = unknown>(request: AgentRequest): Promise<T>
  terminate(): Promise<void>
}

/**
 * @param receipts shared memory where the agent counts each delivery of a RawEvent whose data has a
 * numeric `seq` (index into the array); it survives the worker being killed.
 * @param accepted shared memory where the agent marks, by `seq`, each of its publishes as it settles
 * (see `PublishOutcome`): what a killed producer had confirmed is known afterwards.
 */
export async function startWorkerEndpoint(
  hub: Hub,
  options: AttachOptions,
  receipts?: Int32Array,
  accepted?: Int32Array,
): Promise<WorkerEndpoint> {
  const { port1, port2 } = new MessageChannel()
  const attachment = hub.attach(port1, options)
  const worker = new Worker(bootstrap, {
    workerData: { entry: agent, port: port2, module: options.module, receipts, accepted },
    transferList: [port2],
  })
  const received: ReceivedEntry[] = []
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>()
  let nextId = 1
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    worker.once('error', rejectReady)
    worker.on(
      'message',
      (message: {
        ready?: boolean
        received?: ReceivedEntry
        id?: number
        ok?: unknown
        error?: unknown
      }) => {
        if (message.ready) return resolveReady()
        if (message.received) return received.push(message.received)
        const request = pending.get(message.id ?? -1)
        if (!request) return
        pending.delete(message.id ?? -1)
        if ('error' in message) request.reject(message.error)
        else request.resolve(message.ok)
      },
    )
  })
  await ready
  return {
    attachment,
    received,
    call: <T>(request: AgentRequest) =>
      new Promise<T>((resolveCall, rejectCall) => {
        const id = nextId++
        pending.set(id, { resolve: resolveCall as (v: unknown) => void, reject: rejectCall })
        worker.postMessage({ id, request })
      }),
    terminate: async () => {
      await worker.terminate()
    },
  }
}
