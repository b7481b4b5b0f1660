/**
 * The chaos harness: a steady load (DataCapture → Storage, Reliable; plus a BestEffort and a
 * LatestOnly subscriber) while faults are injected: Storage's worker killed and restarted, the
 * other workers' ports closed abruptly, handlers stalled past their timeout. At the end every
 * Reliable message published is either delivered or in the dead-letter queue with a reason.
 */
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
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
  const faults = { 'storage killed': 0, 'port closed': 0, 'handler stalled': 0 }
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
    if (pick < 0.5) {
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
  const deadSeqs = new Set(
    bus.deadLetters
      .list()
      .filter(
        (entry) => entry.subscriptionId === metrics.subscriptions.find((s) => s.module === 'storage')?.id,
      )
      .map((entry) => (entry.message.payload.data as { data: { seq: number } }).data.seq),
  )
  let delivered = 0
  let duplicates = 0
  let lost = 0
  for (let seq = 0; seq < sent; seq++) {
    if (refused.has(seq)) continue
    const count = receipts[seq] ?? 0
    if (count > 0) delivered++
    if (count > 1) duplicates++
    if (count === 0 && !deadSeqs.has(seq)) lost++
  }
  const accountingHolds = metrics.subscriptions.every(
    (s) => s.routed === s.delivered + s.dropped + s.coalesced + s.deadLettered,
  )
  clearInterval(heapSampler)
  await Promise.all([storage.terminate(), analysis.terminate(), figurine.terminate()])
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
    [
      'published (Reliable to Storage)',
      `${report.published} accepted, ${report.refused} refused (QueueFull)`,
    ],
    ['delivered', `${report.delivered} (${report.duplicates} more than once: at-least-once)`],
    ['dead-lettered (with reason)', String(report.deadLettered)],
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
