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

/** What the agent shares with the test besides its port. */
export interface AgentRecords {
  /**
   * Shared memory where the agent counts each delivery of a RawEvent whose data has a numeric
   * `seq` (index into the array); it survives the worker being killed.
   */
  receipts?: Int32Array
  /**
   * Shared memory where the agent marks, by `seq`, each of its publishes as it settles (see
   * `PublishOutcome`): what a killed producer had confirmed is known afterwards.
   */
  accepted?: Int32Array
  /**
   * Whether the agent keeps and reports an entry for every delivery (`received`; default true).
   * A long load that counts by `receipts` turns it off: the entries would fill the test's heap.
   */
  recordDeliveries?: boolean
}

export async function startWorkerEndpoint(
  hub: Hub,
  options: AttachOptions,
  { receipts, accepted, recordDeliveries = true }: AgentRecords = {},
): Promise<WorkerEndpoint> {
  const { port1, port2 } = new MessageChannel()
  const attachment = hub.attach(port1, options)
  const worker = new Worker(bootstrap, {
    workerData: { entry: agent, port: port2, module: options.module, receipts, accepted, recordDeliveries },
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
