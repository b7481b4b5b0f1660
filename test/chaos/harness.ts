/**
 * The chaos harness: a steady load (DataCapture → Storage, Reliable; a page over the WebSocket
 * gateway, Reliable; a BestEffort and a LatestOnly subscriber) while faults are injected: Storage's
 * worker killed and restarted, the other workers' ports closed abruptly, the page reloaded,
 * handlers stalled past their timeout. At the end every Reliable message published is either
 * delivered or in the dead-letter queue with a reason, for Storage and for the page.
 */

import WebSocket from 'ws'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'
import { type BusClient, connectBus, fromWebSocket } from '../../src/shared/index.js'
import { startWorkerEndpoint, type WorkerEndpoint } from '../hub/worker-endpoint.js'

export interface ChaosOptions {
  seconds: number
  /** Offered load, RawEvents per second. */
  rate: number
  /** Average time between faults. */
  faultEveryMs: number
  log?: (line: string) => void
}

export interface ChaosReport {
  seconds: number
  offeredRate: number
  faults: Record<string, number>
  published: number
  refused: number
  delivered: number
  deadLettered: number
  lost: number
  duplicates: number
  /** The page (WebSocket, reloaded): messages its handler saw, and its dead letters. */
  pageDelivered: number
  pageDeadLettered: number
  accountingHolds: boolean
  /** Whether the bus was quiet when counted (nothing queued or in flight); if not, `lost` is not final. */
  quiet: boolean
  peakHeapMb: number
  finalHeapMb: number
}

const STORAGE = { publish: [], subscribe: ['RawEvent'] }
const RELIABLE_TIMEOUT_MS = 150
/** One message in this many stalls its Reliable handler past the timeout, on every attempt. */
const STALL_EVERY = 200
/** How long the end of a run waits for the bus to be quiet. */
const QUIET_WAIT_MS = 120_000

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {})
  const bus = createEventBus({
    maxQueueSize: 1_000_000,
    maxRetryAttempts: 2,
    retry: { initialMs: 20, maxMs: 100 },
    deadLetterQueueSize: 1_000_000,
  })
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0, reconnectGraceMs: 10_000 })
  const total = Math.ceil(options.rate * options.seconds) + 1
  const receipts = new Int32Array(new SharedArrayBuffer(total * 4))
  const faults = { 'storage killed': 0, 'port closed': 0, 'page reloaded': 0, 'handler stalled': 0 }
  const reliableFilter = { types: ['RawEvent'] }
  const reliableMode = DeliveryMode.Reliable({ timeoutMs: RELIABLE_TIMEOUT_MS })

  async function startStorage(): Promise<WorkerEndpoint> {
    const storage = await startWorkerEndpoint(
      hub,
      { module: ModuleId.Storage, permissions: STORAGE as never },
      receipts,
    )
    await storage.call({
      op: 'subscribe',
      filter: reliableFilter,
      mode: reliableMode,
      behaviour: { kind: 'stall-flagged', ms: RELIABLE_TIMEOUT_MS * 2 },
    })
    return storage
  }
  async function startWatcher(module: string, mode: DeliveryMode): Promise<WorkerEndpoint> {
    const watcher = await startWorkerEndpoint(hub, { module, permissions: STORAGE as never })
    await watcher.call({ op: 'subscribe', filter: reliableFilter, mode, behaviour: { kind: 'ok' } })
    return watcher
  }

  // A page: the browser bridge's way in (a WebSocket through the gateway) with a Reliable
  // subscription; a reload drops the socket and subscribes again with the same filter and mode.
  const gateway = await startGateway(hub, {
    modules: [{ module: 'chaos-page', permissions: { publish: [], subscribe: ['RawEvent'] } }],
    maxMessagesPerSecond: 1_000_000,
  })
  const pageReceived = new Set<number>()
  async function openPage(): Promise<{ client: BusClient; socket: WebSocket }> {
    const socket = new WebSocket(gateway.url, {
      headers: { authorization: `Bearer ${gateway.tokenFor('chaos-page')}` },
    })
    const client = await connectBus(fromWebSocket(socket))
    await client.subscribe('chaos-page', reliableFilter, reliableMode, (message) => {
      pageReceived.add((message.payload.data as unknown as { data: { seq: number } }).data.seq)
    })
    return { client, socket }
  }
  let page = await openPage()

  let storage = await startStorage()
  let analysis = await startWatcher(ModuleId.AnalysisEngine, DeliveryMode.BestEffort)
  let figurine = await startWatcher(ModuleId.CuteFigurine, DeliveryMode.LatestOnly)

  let sent = 0
  const refused = new Set<number>()
  let peakHeap = 0
  const heapSampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
  }, 50)

  // The load: paced every 5 ms; one in STALL_EVERY messages asks its Reliable handler to stall.
  const start = performance.now()
  const load = setInterval(() => {
    const owed = Math.min(total - 1, Math.floor(((performance.now() - start) * options.rate) / 1000))
    for (; sent < owed; sent++) {
      const seq = sent
      const message = BusMessage.create(
        ModuleId.DataCapture,
        MessagePayload.RawEvent({
          eventType: 'chaos',
          data: { seq, stall: seq % STALL_EVERY === 7 },
          timestamp: new Date(),
        }),
      )
      bus.publish(message).catch(() => refused.add(seq))
    }
  }, 5)

  // The faults.
  const deadline = Date.now() + options.seconds * 1000
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, options.faultEveryMs * (0.5 + Math.random())))
    const pick = Math.random()
    if (pick < 0.2) {
      faults['page reloaded']++
      log('fault: page reloaded')
      page.socket.terminate()
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200))
      page = await openPage()
    } else if (pick < 0.6) {
      faults['storage killed']++
      log('fault: storage worker killed')
      await storage.terminate()
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 300))
      storage = await startStorage()
    } else {
      faults['port closed']++
      const bestEffort = Math.random() < 0.5
      log(`fault: ${bestEffort ? 'analysis-engine' : 'cute-figurine'} port closed`)
      if (bestEffort) {
        await analysis.terminate()
        analysis = await startWatcher(ModuleId.AnalysisEngine, DeliveryMode.BestEffort)
      } else {
        await figurine.terminate()
        figurine = await startWatcher(ModuleId.CuteFigurine, DeliveryMode.LatestOnly)
      }
    }
  }
  clearInterval(load)
  // Every STALL_EVERY-th message stalls its Reliable handler past the timeout (then it is retried).
  faults['handler stalled'] = Math.floor((sent + STALL_EVERY - 8) / STALL_EVERY)

  // Quiet: everything delivered, retried out or dead-lettered.
  for (let waited = 0; waited < QUIET_WAIT_MS; waited += 50) {
    const m = await bus.metrics()
    if (m.currentQueueDepth === 0 && m.inFlight === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const metrics = await bus.metrics()
  const quiet = metrics.currentQueueDepth === 0 && metrics.inFlight === 0
  const deadSeqsOf = (module: string) => {
    const subscriptionId = metrics.subscriptions.find((s) => s.module === module)?.id
    return new Set(
      bus.deadLetters
        .list()
        .filter((entry) => entry.subscriptionId === subscriptionId)
        .map((entry) => (entry.message.payload.data as { data: { seq: number } }).data.seq),
    )
  }
  const deadSeqs = deadSeqsOf('storage')
  const pageDeadSeqs = deadSeqsOf('chaos-page')
  let delivered = 0
  let duplicates = 0
  let lost = 0
  for (let seq = 0; seq < sent; seq++) {
    if (refused.has(seq)) continue
    const count = receipts[seq] ?? 0
    if (count > 0) delivered++
    if (count > 1) duplicates++
    if (count === 0 && !deadSeqs.has(seq)) lost++
    if (!pageReceived.has(seq) && !pageDeadSeqs.has(seq)) lost++
  }
  const accountingHolds = metrics.subscriptions.every(
    (s) => s.routed === s.delivered + s.dropped + s.coalesced + s.deadLettered,
  )
  clearInterval(heapSampler)
  await Promise.all([storage.terminate(), analysis.terminate(), figurine.terminate(), page.client.close()])
  await gateway.close()
  hub.close()
  await bus.shutdown({ drainTimeoutMs: 0 })
  global.gc?.()
  return {
    seconds: options.seconds,
    offeredRate: options.rate,
    faults,
    published: sent - refused.size,
    refused: refused.size,
    delivered,
    deadLettered: deadSeqs.size,
    lost,
    duplicates,
    pageDelivered: [...pageReceived].filter((seq) => !refused.has(seq)).length,
    pageDeadLettered: pageDeadSeqs.size,
    accountingHolds,
    quiet,
    peakHeapMb: peakHeap / 2 ** 20,
    finalHeapMb: process.memoryUsage().heapUsed / 2 ** 20,
  }
}

export function formatReport(report: ChaosReport): string {
  const rows: [string, string][] = [
    ['load held', `${report.offeredRate} RawEvents/s for ${report.seconds} s`],
    [
      'faults injected',
      Object.entries(report.faults)
        .map(([k, v]) => `${v} × ${k}`)
        .join(', '),
    ],
    ['published (Reliable)', `${report.published} accepted, ${report.refused} refused (QueueFull)`],
    ['delivered to Storage', `${report.delivered} (${report.duplicates} more than once: at-least-once)`],
    ['dead-lettered by Storage (with reason)', String(report.deadLettered)],
    [
      'the page (WebSocket, reloaded)',
      `${report.pageDelivered} delivered, ${report.pageDeadLettered} dead-lettered`,
    ],
    [
      'lost',
      report.quiet
        ? String(report.lost)
        : `${report.lost} not yet delivered (the bus was not quiet after ${QUIET_WAIT_MS / 1000} s)`,
    ],
    ['accounting invariant', report.accountingHolds ? 'holds' : 'BROKEN'],
    ['hub heap peak / after', `${report.peakHeapMb.toFixed(1)} MB / ${report.finalHeapMb.toFixed(1)} MB`],
  ]
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
}
