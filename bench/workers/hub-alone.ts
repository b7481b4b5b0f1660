/**
 * The hub alone in its process, as in the app's main process: the bus, the hub and its WebSocket
 * gateway, with every endpoint in a process of its own. Run bundled, with plain Node (no
 * TypeScript loader), so that its memory is the hub's. Talks to its parent over IPC: says where to
 * connect, then measures its own peak RSS, heap and event-loop utilization between `measure` and
 * `report`.
 */
import { performance } from 'node:perf_hooks'
import { createEventBus } from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'

/** What the parent says. */
type Command = { measure: true } | { report: true } | { exit: true }

/** What this process answers. */
export type HubAloneReport =
  | { url: string; tokens: Record<string, string> }
  | { rssMb: number; heapMb: number; elu: number }

const pairs = Number(process.argv[2] ?? 4)
const send = (report: HubAloneReport) => process.send?.(report)

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
let measuringSince = performance.eventLoopUtilization()
const sampler = setInterval(() => {
  const usage = process.memoryUsage()
  peakRss = Math.max(peakRss, usage.rss)
  peakHeap = Math.max(peakHeap, usage.heapUsed)
}, 50)

process.on('message', async (command: Command) => {
  if ('measure' in command) {
    peakRss = 0
    peakHeap = 0
    measuringSince = performance.eventLoopUtilization()
  } else if ('report' in command) {
    send({
      rssMb: peakRss / 2 ** 20,
      heapMb: peakHeap / 2 ** 20,
      elu: performance.eventLoopUtilization(measuringSince).utilization,
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
