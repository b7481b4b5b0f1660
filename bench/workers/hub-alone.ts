/**
 * The hub alone in its process, as in the app's main process: the bus, the hub and its WebSocket
 * gateway, with every endpoint in a process of its own. Run bundled, with plain Node (no
 * TypeScript loader), so that its memory is the hub's. Talks to its parent over IPC: says where to
 * connect; says its RSS once the endpoints are attached, before any traffic (`idle`); measures its
 * own peak RSS, heap, young generation and event-loop utilization between `measure` and `report`,
 * and what its heap holds live once the report's garbage collection is done (run with
 * `--expose-gc`): the peaks count garbage not yet collected, the live heap only what the bus and
 * the hub keep.
 */
import { performance } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'
import { createEventBus } from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'
import { tellParent } from './parent.js'

/** What the parent says. */
type Command = { idle: true } | { measure: true } | { report: true } | { exit: true }

/** What this process answers. */
export type HubAloneReport =
  | { url: string; tokens: Record<string, string> }
  | { idleRssMb: number }
  | { rssMb: number; heapMb: number; youngMb: number; liveHeapMb: number; elu: number }

const pairs = Number(process.argv[2] ?? 4)
const send: (report: HubAloneReport) => void = tellParent

const bus = createEventBus({ maxQueueSize: 1_000_000 })
await bus.start()
const hub = createHub(bus)
const modules = [
  ...Array.from({ length: pairs }, (_, i) => [
    { module: `producer-${i}`, permissions: { publish: ['RawEvent'], subscribe: [] } },
    { module: `consumer-${i}`, permissions: { publish: [], subscribe: ['RawEvent'] } },
  ]).flat(),
  { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } },
]
const gateway = await startGateway(hub, { modules, maxMessagesPerSecond: 1_000_000 })

let peakRss = 0
let peakHeap = 0
let peakYoung = 0
let measuringSince = performance.eventLoopUtilization()
const sampler = setInterval(() => {
  const usage = process.memoryUsage()
  peakRss = Math.max(peakRss, usage.rss)
  peakHeap = Math.max(peakHeap, usage.heapUsed)
  peakYoung = Math.max(peakYoung, youngGeneration())
}, 50)

/** The pages V8's young generation (its new space) holds: what scavenges copy between. */
function youngGeneration(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0
}

/** The heap once a full garbage collection has run: what the process keeps alive. */
function liveHeap(): number {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error('hub-alone runs with --expose-gc, to measure its live heap')
  collect()
  return process.memoryUsage().heapUsed
}

process.on('message', async (command: Command) => {
  if ('idle' in command) {
    send({ idleRssMb: process.memoryUsage().rss / 2 ** 20 })
  } else if ('measure' in command) {
    peakRss = 0
    peakHeap = 0
    peakYoung = 0
    measuringSince = performance.eventLoopUtilization()
  } else if ('report' in command) {
    const elu = performance.eventLoopUtilization(measuringSince).utilization
    send({
      rssMb: peakRss / 2 ** 20,
      heapMb: peakHeap / 2 ** 20,
      youngMb: peakYoung / 2 ** 20,
      liveHeapMb: liveHeap() / 2 ** 20,
      elu,
    })
  } else {
    clearInterval(sampler)
    await gateway.close()
    hub.close()
    await bus.shutdown({ drainTimeoutMs: 0 })
    process.exit(0)
  }
})

send({
  url: gateway.url,
  tokens: Object.fromEntries(modules.map(({ module }) => [module, gateway.tokenFor(module)])),
})
