/**
 * Scale: routing cost must follow the matching subscriptions only. In process, one subscription
 * matches and up to 999 others listen to other types; across threads, one publisher fans out to
 * 1, 4 or 16 worker endpoints.
 */
import { MessageChannel } from 'node:worker_threads'
import { createEventBus, DeliveryMode, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { type CaseDefinition, nextMessage, startWorker, throughput } from '../harness.js'
import { keystrokeMessage } from '../payload.js'

const POOL = 4096

async function subscriptions(count: number, total: number): Promise<number> {
  const bus = createEventBus({ maxQueueSize: 100_000 })
  await bus.start()
  let delivered = 0
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
    delivered++
  })
  for (let i = 1; i < count; i++) {
    await bus.subscribe(
      `other-${i}`,
      MessageFilter.types(['StorageStatus', 'EventBatch']),
      DeliveryMode.BestEffort,
      () => {},
    )
  }
  const pool = Array.from({ length: POOL }, (_, i) => keystrokeMessage(i))
  const start = performance.now()
  for (let sent = 0; sent < total; sent += 1000) {
    for (let i = 0; i < 1000; i++) void bus.publish(pool[(sent + i) % POOL] as (typeof pool)[number])
    await Promise.resolve()
  }
  while (delivered < total) await new Promise((resolve) => setImmediate(resolve))
  return performance.now() - start
}

async function endpoints(count: number, total: number): Promise<number> {
  const bus = createEventBus({ maxQueueSize: 1_000_000 })
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0 })
  const workers = Array.from({ length: count }, (_, i) => {
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: `consumer-${i}`, permissions: { publish: [], subscribe: ['RawEvent'] } })
    return startWorker('endpoint', { role: 'hub-consumer', port: port2 }, [port2])
  })
  await Promise.all(workers.map((w) => nextMessage(w, (m: { ready?: boolean }) => m.ready === true)))
  const run = async (n: number) => {
    const done = Promise.all(workers.map((w) => nextMessage(w, (m: { done?: boolean }) => m.done === true)))
    const armed = Promise.all(
      workers.map((w) => nextMessage(w, (m: { armed?: boolean }) => m.armed === true)),
    )
    for (const w of workers) w.postMessage({ go: true, total: n })
    await armed
    const start = performance.now()
    for (let sent = 0; sent < n; sent += 500) {
      for (let i = 0; i < 500 && sent + i < n; i++) void bus.publish(keystrokeMessage(sent + i))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await done
    return performance.now() - start
  }
  await run(Math.min(total, 5000))
  const ms = await run(total)
  await Promise.all(workers.map((w) => w.terminate()))
  hub.close()
  return ms
}

export const scale: CaseDefinition = {
  name: 'scale',
  title: 'Scale: subscriptions (1 matching) and endpoints (deliveries/s)',
  variants: [
    'subscriptions 1',
    'subscriptions 10',
    'subscriptions 100',
    'subscriptions 1000',
    'endpoints 1',
    'endpoints 4',
    'endpoints 16',
  ],
  async run(variant, { quick }) {
    const [kind, n] = variant.split(' ') as [string, string]
    const count = Number(n)
    if (kind === 'subscriptions') {
      const total = quick ? 20_000 : 300_000
      await subscriptions(count, Math.min(total, 50_000))
      return [throughput('deliveries/s', total, await subscriptions(count, total))]
    }
    const total = quick ? 2_000 : Math.round(200_000 / count)
    return [throughput('deliveries/s', total * count, await endpoints(count, total))]
  },
}
