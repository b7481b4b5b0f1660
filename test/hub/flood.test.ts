/**
 * A publisher far faster than its subscribers: Reliable publishers get QueueFull, BestEffort drops
 * are counted, memory stays bounded, and an unflooded subscription keeps its normal latency.
 */
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  DeliveryMode,
  isEventBusError,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { rawEvent } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'
import { startWorkerEndpoint } from './worker-endpoint.js'

describe('flood', () => {
  it('pushes back on publishers, counts drops, stays bounded, and spares other subscriptions', async () => {
    const { bus, hub } = await startHub({ maxQueueSize: 500 })
    const slow = { publish: [], subscribe: '*' as const }
    const storage = await startWorkerEndpoint(hub, { module: ModuleId.Storage, permissions: slow })
    const analysis = await startWorkerEndpoint(hub, { module: ModuleId.AnalysisEngine, permissions: slow })
    afterThisTest(
      () => storage.terminate(),
      () => analysis.terminate(),
    )
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 5000 }),
      behaviour: { kind: 'delay', ms: 5 },
    })
    await analysis.call({
      op: 'subscribe',
      filter: { types: ['AnalysisComplete'] },
      mode: DeliveryMode.BestEffort,
      behaviour: { kind: 'delay', ms: 5 },
    })
    // The unflooded subscription: StateChange, in process.
    const stateLatencies: number[] = []
    await bus.subscribe(
      ModuleId.Gamification,
      MessageFilter.types(['StateChange']),
      DeliveryMode.BestEffort,
      (m) => {
        stateLatencies.push(Date.now() - m.payload.data.timestamp.getTime())
      },
    )
    const baselineHeap = process.memoryUsage().heapUsed
    let peakHeap = baselineHeap
    let queueFull = 0
    let accepted = 0
    const until = performance.now() + 2000
    while (performance.now() < until) {
      const batch: Promise<unknown>[] = []
      for (let i = 0; i < 500; i++) {
        batch.push(
          bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))).then(
            () => accepted++,
            (error) => {
              if (isEventBusError(error, 'QueueFull')) queueFull++
              else throw error
            },
          ),
          bus
            .publish(
              BusMessage.create(
                ModuleId.AnalysisEngine,
                MessagePayload.AnalysisComplete({
                  windowId: crypto.randomUUID(),
                  state: 'focused',
                  confidence: 1,
                  startTime: new Date(),
                  endTime: new Date(),
                }),
              ),
            )
            .catch(() => {}),
        )
      }
      await Promise.all(batch)
      await bus.publish(
        BusMessage.withPriority(
          ModuleId.AnalysisEngine,
          MessagePayload.StateChange({ state: 'focused', confidence: 1, timestamp: new Date() }),
          MessagePriority.High,
        ),
      )
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
      await new Promise((resolve) => setImmediate(resolve))
    }
    const metrics = await bus.metrics()
    const reliable = metrics.subscriptions.find((s) => s.module === 'storage')
    const bestEffort = metrics.subscriptions.find((s) => s.module === 'analysis-engine')
    expect(queueFull).toBeGreaterThan(0)
    expect(reliable?.queueDepth).toBeLessThanOrEqual(500)
    expect(bestEffort?.dropped).toBeGreaterThan(0)
    expect(bestEffort?.queueDepth).toBeLessThanOrEqual(500)
    console.log(
      `flood: ${accepted} accepted, ${queueFull} refused (QueueFull), ${bestEffort?.dropped} BestEffort drops, heap peak +${((peakHeap - baselineHeap) / 2 ** 20).toFixed(1)} MB`,
    )
    expect(peakHeap - baselineHeap).toBeLessThan(200 * 2 ** 20)
    stateLatencies.sort((a, b) => a - b)
    expect(stateLatencies.length).toBeGreaterThan(10)
    expect(stateLatencies[Math.floor(stateLatencies.length * 0.99)]).toBeLessThan(100)
  }, 30_000)
})
