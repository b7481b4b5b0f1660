/**
 * Memory and CPU of the hub (main thread): heap, RSS and event-loop utilization at steady offered
 * rates with 8 endpoints (4 producers, 4 consumers), with and without the inspector attached, the
 * endpoints as worker threads of the hub's process or each in a process of its own
 * (see hub-alone); and the inspector's cost as two-hop throughput with and without it.
 */
import { performance } from 'node:perf_hooks'
import { MessageChannel, type Worker } from 'node:worker_threads'
import { createEventBus, type EventBus } from '../../src/main/bus/index.js'
import { createHub, type Hub } from '../../src/main/hub/index.js'
import { type CaseDefinition, type Measurement, median, nextMessage, startWorker } from '../harness.js'
import { hubAlone } from './hub-alone.js'

const ready = (w: Worker) => nextMessage(w, (m: { ready?: boolean }) => m.ready === true)
const done = (w: Worker) => nextMessage(w, (m: { done?: boolean }) => m.done === true)

function endpoint(
  hub: Hub,
  module: string,
  role: string,
  permissions: { publish: string[]; subscribe: string[] },
  sources?: string[],
) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module, permissions })
  return startWorker('endpoint', { role, port: port2, sources }, [port2])
}

/**
 * An inspector endpoint streaming metrics and the tail like the window does, in its own thread: the
 * window is a renderer process of its own, so only the hub's side of the streams is the hub's cost.
 */
async function attachInspector(hub: Hub) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
  const worker = startWorker('endpoint', { role: 'inspector', port: port2 }, [port2])
  await ready(worker)
  return worker
}

interface Inspected {
  inspected: true
  snapshots: number
  entries: number
}

/** Tells the inspector to watch (stream metrics and the tail) or stop, and waits until it has. */
async function watch(inspector: Worker, on: boolean) {
  const answer = nextMessage(inspector, (m: { watching?: boolean }) => m.watching === on)
  inspector.postMessage({ watch: on })
  await answer
}

/** Waits until the inspector has had a metrics snapshot and tail entries: a dead stream fails the case. */
async function assertInspected(inspector: Worker) {
  const deadline = performance.now() + 5_000
  for (;;) {
    const report = nextMessage<Inspected>(inspector, (m) => m.inspected === true)
    inspector.postMessage({ report: true })
    const { snapshots, entries } = await report
    if (snapshots > 0 && entries > 0) return
    if (performance.now() > deadline) {
      throw new Error(`the inspector got ${snapshots} metrics snapshots and ${entries} tail entries`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function setup(producers: number, withInspector: boolean) {
  const bus: EventBus = createEventBus({ maxQueueSize: 1_000_000 })
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0 })
  const pairs = Array.from({ length: producers }, (_, i) => ({
    producer: endpoint(hub, `producer-${i}`, 'hub-producer', { publish: ['RawEvent'], subscribe: [] }),
    consumer: endpoint(hub, `consumer-${i}`, 'hub-consumer', { publish: [], subscribe: ['RawEvent'] }, [
      `producer-${i}`,
    ]),
  }))
  await Promise.all(pairs.flatMap((p) => [ready(p.producer), ready(p.consumer)]))
  const inspector = withInspector ? await attachInspector(hub) : undefined
  if (inspector) await watch(inspector, true)
  const run = async (perProducer: number, rate?: number) => {
    const finished = Promise.all(pairs.map((p) => done(p.consumer)))
    const armed = Promise.all(
      pairs.map((p) => nextMessage(p.consumer, (m: { armed?: boolean }) => m.armed === true)),
    )
    for (const p of pairs) p.consumer.postMessage({ go: true, total: perProducer })
    await armed
    for (const p of pairs) p.producer.postMessage({ go: true, total: perProducer, rate })
    await finished
  }
  const close = async () => {
    if (inspector) {
      await assertInspected(inspector)
      await inspector.terminate()
    }
    await Promise.all(pairs.flatMap((p) => [p.producer.terminate(), p.consumer.terminate()]))
    hub.close()
  }
  return { run, close, inspector }
}

/**
 * Maximum two-hop throughput with the inspector watching and not, in one process with the
 * inspector's thread attached throughout. Segments come in eight pairs, not watching then watching
 * and the reverse in turn (so a drift of the machine's speed hits both alike); the overhead is the
 * median of the pairs' throughput losses (with four pairs, a repetition's median swung by ±3 %, as
 * much as the bound). Also the hub thread's busy time per message, watching and
 * not. Watching stretches span two segments of about a second each at full speed here, so each
 * holds one or two of the metrics stream's snapshots (one a second): with 100,000-message segments
 * (~0.35 s on this machine since run Y) the stream restarted with each stretch and never sent one.
 * The warm-up is as long as a segment and watches for half of it: after a shorter one that did not
 * watch, the first segment ran ~40 % slower than the rest and the first watching one paid for
 * compiling the hub's code again, once.
 */
async function inspectorOverhead(quick: boolean): Promise<Measurement[]> {
  const { run, close, inspector } = await setup(1, true)
  if (!inspector) throw new Error('no inspector')
  await watch(inspector, false)
  const segment = quick ? 5_000 : 300_000
  // Warm-up, half of it watching: the first time the inspector watches, code that has only seen
  // messages go by is compiled again for the tail and the metrics stream, once in the hub's life.
  for (const on of [false, true]) {
    await watch(inspector, on)
    await run(segment / 2)
  }
  // Eight pairs: not watching then watching, and the reverse, four times over.
  const order = Array.from({ length: 4 }, () => [false, true, true, false]).flat()
  const rates: number[] = []
  const busy = { on: 0, off: 0 }
  for (const on of order) {
    await watch(inspector, on)
    const before = performance.eventLoopUtilization()
    const start = performance.now()
    await run(segment)
    rates.push(segment / (performance.now() - start))
    busy[on ? 'on' : 'off'] += performance.eventLoopUtilization(before).active
  }
  await watch(inspector, true)
  await close()
  const watched = rates.filter((_, i) => order[i])
  const unwatched = rates.filter((_, i) => !order[i])
  const losses = watched.map((rate, pair) => (1 - rate / (unwatched[pair] as number)) * 100)
  const messages = (segment * order.length) / 2
  return [
    {
      metric: 'messages/s, inspector not watching',
      unit: 'msg/s',
      value: median(unwatched) * 1000,
      better: 'higher',
    },
    {
      metric: 'messages/s, inspector watching',
      unit: 'msg/s',
      value: median(watched) * 1000,
      better: 'higher',
    },
    { metric: 'inspector overhead (throughput lost)', unit: '%', value: median(losses), better: 'lower' },
    {
      metric: 'hub busy per message, not watching',
      unit: 'µs/msg',
      value: (busy.off / messages) * 1000,
      better: 'lower',
    },
    {
      metric: 'hub busy per message, watching',
      unit: 'µs/msg',
      value: (busy.on / messages) * 1000,
      better: 'lower',
    },
  ]
}

export const resources: CaseDefinition = {
  name: 'resources',
  title: 'Hub memory and CPU; inspector overhead',
  variants: [
    'steady 1k/s',
    'steady 10k/s',
    'steady 10k/s + inspector',
    'endpoints in processes, steady 1k/s + inspector',
    'endpoints in processes, steady 10k/s + inspector',
    'max two-hop, inspector on and off',
  ],
  async run(variant, { quick }) {
    if (variant.startsWith('max')) return inspectorOverhead(quick)
    const rate = variant.includes('10k') ? 10_000 : 1_000
    const seconds = quick ? 1 : 5
    if (variant.startsWith('endpoints in processes')) return hubAlone(rate, seconds)
    const withInspector = variant.endsWith('+ inspector')
    const { run, close } = await setup(4, withInspector)
    await run(Math.round(rate / 8), rate / 4) // warm-up
    let peakRss = 0
    let peakHeap = 0
    const sampler = setInterval(() => {
      const usage = process.memoryUsage()
      peakRss = Math.max(peakRss, usage.rss)
      peakHeap = Math.max(peakHeap, usage.heapUsed)
    }, 50)
    const before = performance.eventLoopUtilization()
    await run(Math.round((rate * seconds) / 4), rate / 4)
    const elu = performance.eventLoopUtilization(before).utilization
    clearInterval(sampler)
    await close()
    const measurements: Measurement[] = [
      { metric: 'hub heap (main thread) peak', unit: 'MB', value: peakHeap / 2 ** 20, better: 'lower' },
      // One process: RSS includes the 8 endpoint worker threads and their TypeScript loaders.
      { metric: 'process RSS peak (hub + 8 workers)', unit: 'MB', value: peakRss / 2 ** 20, better: 'lower' },
      { metric: 'hub event-loop utilization', unit: '%', value: elu * 100, better: 'lower' },
    ]
    return measurements
  },
}
