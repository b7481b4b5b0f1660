/**
 * Memory and CPU of the hub (main thread): RSS and event-loop utilization at steady offered rates
 * with 8 endpoints (4 producers, 4 consumers), with and without the inspector attached; and the
 * inspector's cost as two-hop throughput with and without it.
 */
import { performance } from 'node:perf_hooks'
import { MessageChannel, type Worker } from 'node:worker_threads'
import { createEventBus, type EventBus } from '../../src/main/bus/index.js'
import { createHub, type Hub } from '../../src/main/hub/index.js'
import { connectBus } from '../../src/shared/index.js'
import { type CaseDefinition, type Measurement, nextMessage, startWorker, throughput } from '../harness.js'

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

/** An inspector endpoint in this thread, streaming metrics and the tail like the window does. */
async function attachInspector(hub: Hub) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
  const client = await connectBus(port2)
  await client.onMetrics(() => {})
  await client.onTail(() => {})
  return client
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
    await inspector?.close()
    await Promise.all(pairs.flatMap((p) => [p.producer.terminate(), p.consumer.terminate()]))
    hub.close()
  }
  return { run, close }
}

export const resources: CaseDefinition = {
  name: 'resources',
  title: 'Hub memory and CPU; inspector overhead',
  variants: [
    'steady 1k/s',
    'steady 10k/s',
    'steady 10k/s + inspector',
    'max two-hop',
    'max two-hop + inspector',
  ],
  async run(variant, { quick }) {
    const withInspector = variant.endsWith('+ inspector')
    if (variant.startsWith('max')) {
      const { run, close } = await setup(1, withInspector)
      const total = quick ? 10_000 : 200_000
      await run(10_000)
      const start = performance.now()
      await run(total)
      const ms = performance.now() - start
      await close()
      return [throughput('messages/s', total, ms)]
    }
    const rate = variant.includes('10k') ? 10_000 : 1_000
    const seconds = quick ? 1 : 5
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
