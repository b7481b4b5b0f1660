/**
 * The chaos harness: a steady load (DataCapture → Storage, Reliable; a page over the WebSocket
 * gateway, Reliable; a BestEffort and a LatestOnly subscriber) while faults are injected: Storage's
 * worker killed and restarted, the other workers' ports closed abruptly, the page reloaded,
 * handlers stalled past their timeout. At the end every Reliable message published is either
 * delivered or in the dead-letter queue with a reason, for Storage and for the page.
 *
 * With `direct`, DataCapture is a worker of its own with a direct route to Storage (its copies for
 * the others still go through the hub): the route falls back and comes back again and again under
 * load. With `killProducer` that worker is killed and restarted too: its counters since its last
 * report (every 250 ms) die with it, and the hub makes them up from what its consumer saw. The
 * report says how many copies no counter accounts for (`unaccounted`).
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
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { settledHeap } from '../fixtures/garbage.js'
import { PublishOutcome, stallsAt } from '../fixtures/seq-load.js'
import { startWorkerEndpoint, type WorkerEndpoint } from '../hub/worker-endpoint.js'

export interface ChaosOptions {
  seconds: number
  /** Offered load, RawEvents per second. */
  rate: number
  /** Average time between faults. */
  faultEveryMs: number
  /** DataCapture publishes from its own worker over a direct route to Storage. */
  direct?: boolean
  /** With `direct`: DataCapture's worker is killed and restarted among the other faults. */
  killProducer?: boolean
  log?: (line: string) => void
}

export interface ChaosReport {
  seconds: number
  offeredRate: number
  /** Where DataCapture's messages to Storage went: through the hub, or over a direct route. */
  path: 'hub' | 'direct route'
  faults: Record<string, number>
  published: number
  refused: number
  /** Publishes a killed producer never saw settle: neither accepted nor refused, so not counted. */
  unconfirmed: number
  /** Direct route: channels set up, and times one went down and traffic fell back to the hub. */
  established: number
  fallbacks: number
  delivered: number
  deadLettered: number
  lost: number
  duplicates: number
  /** The page (WebSocket, reloaded): messages its handler saw, and its dead letters. */
  pageDelivered: number
  pageDeadLettered: number
  /**
   * Copies routed to a subscription whose fate no counter shows (all subscriptions together): the
   * accounting invariant holds when it is 0.
   */
  unaccounted: number
  /** Whether the bus was quiet when counted (nothing queued or in flight); if not, `lost` is not final. */
  quiet: boolean
  /**
   * The heap of the bus's thread (the bus, the hub, the gateway and this harness, which keeps
   * nothing per message there: its counts are in fixed arrays and its endpoints record no
   * deliveries): once every endpoint is attached and before the load, at its peak, and once the
   * run is over: what is left is what the bus and the hub keep.
   */
  heapBeforeMb: number
  peakHeapMb: number
  finalHeapMb: number
}

type Fault = 'storage killed' | 'producer killed' | 'port closed' | 'page reloaded'

const STORAGE = { publish: [], subscribe: ['RawEvent'] }
const DATA_CAPTURE = { publish: ['RawEvent'], subscribe: [] }
const RELIABLE_TIMEOUT_MS = 150
/** One message in this many stalls its Reliable handler past the timeout, on every attempt. */
const STALL_EVERY = 200
/**
 * The invariant (routed = delivered + dropped + coalesced + dead-lettered) is judged once the bus
 * is quiet: before that, copies still queued or in flight rightly have no outcome yet.
 */
function invariantVerdict(report: ChaosReport): string {
  if (!report.quiet)
    return `not judged: the bus was not quiet, ${report.unaccounted} copies routed have no outcome yet`
  return report.unaccounted === 0 ? 'holds' : `BROKEN: ${report.unaccounted} copies routed without an outcome`
}

/** How long the end of a run waits for the bus to be quiet. */
const QUIET_WAIT_MS = 120_000
/** Longer than a direct producer's report interval: its last counters reach the hub within it. */
const FINAL_REPORT_WAIT_MS = 600

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {})
  const bus = createEventBus({
    maxQueueSize: 1_000_000,
    maxRetryAttempts: 2,
    retry: { initialMs: 20, maxMs: 100 },
    deadLetterQueueSize: 1_000_000,
  })
  await bus.start()
  const direct = options.direct === true
  const hub = createHub(bus, {
    heartbeatMs: 0,
    reconnectGraceMs: 10_000,
    routes: direct
      ? [{ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] }]
      : [],
  })
  const total = Math.ceil(options.rate * options.seconds) + 1
  // Per seq: deliveries to Storage, and how its publish settled (both outlive killed workers).
  const receipts = new Int32Array(new SharedArrayBuffer(total * 4))
  const accepted = new Int32Array(new SharedArrayBuffer(total * 4))
  // The faults come in a fixed rotation at random moments: a short run still meets every kind.
  const rotation: Fault[] = [
    'storage killed',
    ...(direct && options.killProducer ? (['producer killed'] as const) : []),
    'port closed',
    'page reloaded',
    'storage killed',
    'port closed',
  ]
  const faults: Record<string, number> = Object.fromEntries(
    [...new Set(rotation), 'handler stalled'].map((fault) => [fault, 0]),
  )
  const reliableFilter = { types: ['RawEvent'] }
  const reliableMode = DeliveryMode.Reliable({ timeoutMs: RELIABLE_TIMEOUT_MS })

  async function startStorage(): Promise<WorkerEndpoint> {
    const storage = await startWorkerEndpoint(
      hub,
      { module: ModuleId.Storage, permissions: STORAGE as never },
      { receipts, recordDeliveries: false },
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
    const watcher = await startWorkerEndpoint(
      hub,
      { module, permissions: STORAGE as never },
      { recordDeliveries: false },
    )
    await watcher.call({ op: 'subscribe', filter: reliableFilter, mode, behaviour: { kind: 'ok' } })
    return watcher
  }

  // A page: the browser bridge's way in (a WebSocket through the gateway) with a Reliable
  // subscription; a reload drops the socket and subscribes again with the same filter and mode.
  const gateway = await startGateway(hub, {
    modules: [{ module: 'chaos-page', permissions: { publish: [], subscribe: ['RawEvent'] } }],
    maxMessagesPerSecond: 1_000_000,
  })
  // Per seq: whether the page's handler saw it (a fixed array: the harness's heap stays flat).
  const pageReceived = new Uint8Array(total)
  async function openPage(): Promise<{ client: BusClient; socket: WebSocket }> {
    const socket = new WebSocket(gateway.url, {
      headers: { authorization: `Bearer ${gateway.tokenFor('chaos-page')}` },
    })
    const client = await connectBus(fromWebSocket(socket))
    await client.subscribe('chaos-page', reliableFilter, reliableMode, (message) => {
      pageReceived[(message.payload.data as unknown as { data: { seq: number } }).data.seq] = 1
    })
    return { client, socket }
  }
  let page = await openPage()

  let storage = await startStorage()
  let analysis = await startWatcher(ModuleId.AnalysisEngine, DeliveryMode.BestEffort)
  let figurine = await startWatcher(ModuleId.CuteFigurine, DeliveryMode.LatestOnly)
  const startProducer = () =>
    startWorkerEndpoint(
      hub,
      { module: ModuleId.DataCapture, permissions: DATA_CAPTURE as never },
      { accepted, recordDeliveries: false },
    )
  // Direct: DataCapture's worker; absent while it is being restarted (the load waits for it).
  let producer = direct ? await startProducer() : undefined
  /** The direct producer's publish calls still running (forgotten if it is killed). */
  let producerCalls = new Set<Promise<unknown>>()
  for (let waited = 0; direct && hub.routes().some((route) => route.state !== 'active'); waited += 10) {
    if (waited > 10_000) throw new Error('the direct route never became active')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }

  const heapBefore = await settledHeap()
  let sent = 0
  let peakHeap = 0
  const heapSampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
  }, 50)

  // The load: paced every 5 ms; one in STALL_EVERY messages asks its Reliable handler to stall.
  const start = performance.now()
  const load = setInterval(() => {
    const owed = Math.min(total - 1, Math.floor(((performance.now() - start) * options.rate) / 1000))
    if (sent >= owed) return
    if (direct) {
      if (producer === undefined) return
      const calls = producerCalls
      const call = producer.call({
        op: 'publish',
        count: owed - sent,
        prefix: 'chaos',
        seqFrom: sent,
        stallEvery: STALL_EVERY,
      })
      calls.add(call)
      void call.finally(() => calls.delete(call))
      sent = owed
      return
    }
    for (; sent < owed; sent++) {
      const seq = sent
      const message = BusMessage.create(
        ModuleId.DataCapture,
        MessagePayload.RawEvent({
          eventType: 'chaos',
          data: { seq, stall: stallsAt(seq, STALL_EVERY) },
          timestamp: new Date(),
        }),
      )
      bus.publish(message).then(
        () => Atomics.store(accepted, seq, PublishOutcome.Accepted),
        () => Atomics.store(accepted, seq, PublishOutcome.Refused),
      )
    }
  }, 5)

  // The faults.
  const deadline = performance.now() + options.seconds * 1000
  // At least one full rotation, however slow the machine: every kind of fault is met.
  for (let turn = 0; performance.now() < deadline || turn < rotation.length; turn++) {
    await new Promise((resolve) => setTimeout(resolve, options.faultEveryMs * (0.5 + Math.random())))
    const fault = rotation[turn % rotation.length] as Fault
    faults[fault] = (faults[fault] ?? 0) + 1
    if (fault === 'producer killed') {
      log('fault: data-capture (direct producer) worker killed')
      const killed = producer
      producer = undefined
      producerCalls = new Set()
      await killed?.terminate()
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 300))
      producer = await startProducer()
    } else if (fault === 'page reloaded') {
      log('fault: page reloaded')
      page.socket.terminate()
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200))
      page = await openPage()
    } else if (fault === 'storage killed') {
      log('fault: storage worker killed')
      await storage.terminate()
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 300))
      storage = await startStorage()
    } else {
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
  await Promise.all(producerCalls)

  // Quiet: everything delivered, retried out or dead-lettered, at the hub and on the route; then
  // once more after the direct producer's last report, for the counts.
  const isQuiet = (m: BusMetrics) =>
    m.currentQueueDepth === 0 &&
    m.inFlight === 0 &&
    m.routes.every((route) => route.queued === 0 && route.inFlight === 0 && route.held === 0)
  for (let waited = 0; waited < QUIET_WAIT_MS; waited += 50) {
    if (isQuiet(await bus.metrics())) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (direct) await new Promise((resolve) => setTimeout(resolve, FINAL_REPORT_WAIT_MS))
  const metrics = await bus.metrics()
  const quiet = isQuiet(metrics)
  const [route] = metrics.routes
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
  let published = 0
  let refused = 0
  let pageDelivered = 0
  for (let seq = 0; seq < sent; seq++) {
    const outcome = accepted[seq]
    if (outcome === PublishOutcome.Refused) refused++
    if (outcome !== PublishOutcome.Accepted) continue
    published++
    if (pageReceived[seq] === 1) pageDelivered++
    const count = receipts[seq] ?? 0
    if (count > 0) delivered++
    if (count > 1) duplicates++
    if (count === 0 && !deadSeqs.has(seq)) lost++
    if (pageReceived[seq] !== 1 && !pageDeadSeqs.has(seq)) lost++
  }
  const unaccounted = metrics.subscriptions.reduce(
    (sum, s) => sum + Math.abs(s.routed - (s.delivered + s.dropped + s.coalesced + s.deadLettered)),
    0,
  )
  clearInterval(heapSampler)
  await Promise.all([
    storage.terminate(),
    analysis.terminate(),
    figurine.terminate(),
    producer?.terminate(),
    page.client.close(),
  ])
  await gateway.close()
  hub.close()
  await bus.shutdown({ drainTimeoutMs: 0 })
  const heapAfter = await settledHeap()
  return {
    seconds: options.seconds,
    offeredRate: options.rate,
    path: direct ? 'direct route' : 'hub',
    faults,
    published,
    refused,
    unconfirmed: sent - published - refused,
    established: route?.established ?? 0,
    fallbacks: route?.fallbacks ?? 0,
    delivered,
    deadLettered: deadSeqs.size,
    lost,
    duplicates,
    pageDelivered,
    pageDeadLettered: pageDeadSeqs.size,
    unaccounted,
    quiet,
    heapBeforeMb: heapBefore / 2 ** 20,
    peakHeapMb: peakHeap / 2 ** 20,
    finalHeapMb: heapAfter / 2 ** 20,
  }
}

export function formatReport(report: ChaosReport): string {
  const rows: [string, string][] = [
    [
      'load held',
      `${report.offeredRate} RawEvents/s for ${report.seconds} s, DataCapture → Storage through ${report.path === 'hub' ? 'the hub' : 'a direct route'}`,
    ],
    [
      'faults injected',
      Object.entries(report.faults)
        .map(([k, v]) => `${v} × ${k}`)
        .join(', '),
    ],
    [
      'published (Reliable)',
      `${report.published} accepted, ${report.refused} refused (QueueFull)` +
        (report.unconfirmed > 0
          ? `, ${report.unconfirmed} unconfirmed (their producer was killed first)`
          : ''),
    ],
    ...(report.path === 'hub'
      ? []
      : [
          ['direct route', `set up ${report.established} times, fell back ${report.fallbacks} times`] as [
            string,
            string,
          ],
        ]),
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
    ['accounting invariant', invariantVerdict(report)],
    [
      "hub thread's heap: before the load / peak / after",
      [report.heapBeforeMb, report.peakHeapMb, report.finalHeapMb]
        .map((mb) => `${mb.toFixed(1)} MB`)
        .join(' / '),
    ],
  ]
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
}
