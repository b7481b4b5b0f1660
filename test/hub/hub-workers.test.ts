/**
 * The hub across real threads: the hub and bus in this thread, endpoints in worker_threads workers
 * speaking the protocol through the real endpoint client.
 */
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub, type Hub } from '../../src/main/hub/index.js'
import { expectAccounted, rawEvent, stallThisThread, waitFor } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'
import { startWorkerEndpoint, type WorkerEndpoint } from './worker-endpoint.js'

const everything = { publish: '*', subscribe: '*' } as const

async function endpoint(
  hub: Hub,
  module: string,
  permissions = everything as never,
  receipts?: Int32Array,
): Promise<WorkerEndpoint> {
  const started = await startWorkerEndpoint(hub, { module, permissions }, { receipts })
  afterThisTest(() => started.terminate())
  return started
}

type Received = { id: string; eventType?: string; subscriptionId: string }[]

function publishRaw(bus: EventBus, count: number, prefix = 'e') {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      bus.publish(
        BusMessage.create(
          ModuleId.DataCapture,
          MessagePayload.RawEvent(rawEvent({ eventType: `${prefix}${i}` })),
        ),
      ),
    ),
  )
}

/** RawEvents whose data carries `seq` from..from+count-1, which agents record in their receipts. */
function publishSequence(bus: EventBus, from: number, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      bus.publish(
        BusMessage.create(
          ModuleId.DataCapture,
          MessagePayload.RawEvent(rawEvent({ eventType: 'seq', data: { seq: from + i } })),
        ),
      ),
    ),
  )
}

async function firstSubscription(bus: EventBus) {
  return (await bus.metrics()).subscriptions[0]
}

describe('hub with worker endpoints', () => {
  it('carries a worker’s publishes to in-process subscribers, stamped with its identity', async () => {
    const { bus, hub } = await startHub()
    const got: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      got.push(`${m.source}:${m.payload.data.eventType}`)
    })
    const capture = await endpoint(hub, ModuleId.DataCapture)
    const result = await capture.call<{ ok: number }>({ op: 'publish', count: 50, prefix: 'k' })
    expect(result.ok).toBe(50)
    await waitFor(() => got.length === 50)
    expect(got[0]).toBe('data-capture:k0')
    expect(got[49]).toBe('data-capture:k49')
  })

  it.each([
    ['BestEffort', DeliveryMode.BestEffort],
    ['Reliable', DeliveryMode.Reliable({ timeoutMs: 1000 })],
  ])('delivers to a worker subscriber (%s) with acks counted as deliveries', async (_name, mode) => {
    const { bus, hub } = await startHub()
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({ op: 'subscribe', filter: { types: ['RawEvent'] }, mode, behaviour: { kind: 'ok' } })
    await publishRaw(bus, 200)
    await waitFor(async () => (await bus.metrics()).messagesDelivered === 200)
    const received = await storage.call<Received>({ op: 'received' })
    expect(received.map((r) => r.eventType)).toEqual(Array.from({ length: 200 }, (_, i) => `e${i}`))
    const metrics = await bus.metrics()
    expect(metrics.subscriptions[0]).toMatchObject({
      module: 'storage',
      delivered: 200,
      inFlight: 0,
      queueDepth: 0,
    })
    expect(metrics.deliveryLatency.count).toBe(200)
    await expectAccounted(bus)
  })

  it('keeps only the newest for a LatestOnly worker subscriber', async () => {
    const { bus, hub } = await startHub()
    const figurine = await endpoint(hub, ModuleId.CuteFigurine)
    await figurine.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.LatestOnly,
      behaviour: { kind: 'delay', ms: 50 },
    })
    await publishRaw(bus, 20)
    await waitFor(async () => {
      const m = await bus.metrics()
      return m.messagesDelivered + m.messagesCoalesced === 20
    })
    const received = await figurine.call<Received>({ op: 'received' })
    expect(received.at(-1)?.eventType).toBe('e19')
    expect(received.length).toBeLessThan(20)
    await expectAccounted(bus)
  })

  it('retries a failing worker handler and dead-letters it with the handler’s error', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 2, retry: { initialMs: 5, maxMs: 10 } })
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 1000 }),
      behaviour: { kind: 'throw', message: 'disk full' },
    })
    await publishRaw(bus, 1)
    await waitFor(() => bus.deadLetters.list().length === 1)
    expect(bus.deadLetters.list()[0]).toMatchObject({
      module: 'storage',
      reason: 'MaxRetriesExceeded',
      attempts: 3,
      lastError: 'RangeError: disk full',
    })
  })

  it('times out a hanging worker handler with the same meaning as in process', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 0 })
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 100 }),
      behaviour: { kind: 'hang' },
    })
    await publishRaw(bus, 1)
    await waitFor(() => bus.deadLetters.list().length === 1)
    expect(bus.deadLetters.list()[0]).toMatchObject({ reason: 'DeliveryTimeout', attempts: 1 })
    expect(bus.deadLetters.list()[0]?.lastError).toMatch(/DeliveryTimeout/)
  })

  it('sends Reliable deliveries ahead of slow handlers without counting their wait as a timeout', async () => {
    // One handler at a time, 300 ms each, a 400 ms timeout: the sixth waits 1.5 s at the endpoint,
    // longer than a timeout plus the hub's grace second, and must still count as delivered once.
    const { bus, hub } = await startHub({ workers: 1, maxRetryAttempts: 0 })
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 400 }),
      behaviour: { kind: 'delay', ms: 300 },
    })
    await publishRaw(bus, 6)
    // All six are on their way at once (the Reliable window), not one per round trip.
    await waitFor(async () => (await firstSubscription(bus))?.inFlight === 6)
    expect(storage.received.length).toBeLessThanOrEqual(1)
    await waitFor(async () => (await firstSubscription(bus))?.delivered === 6, 5_000)
    expect(new Set(storage.received.map((entry) => entry.id)).size).toBe(6)
    expect(storage.received).toHaveLength(6)
    expect(await firstSubscription(bus)).toMatchObject({ failed: 0, deadLettered: 0, retried: 0 })
    expect(bus.deadLetters.list()).toEqual([])
  })

  it('keeps Reliable deliveries within reliableWindow, and refuses a window below 1', async () => {
    const { bus, hub } = await startHub({ workers: 1 }, { reliableWindow: 2 })
    expect(() => createHub(bus, { reliableWindow: 0 })).toThrow(
      'createHub: options.reliableWindow: Too small: expected number to be >=1',
    )
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 5_000 }),
      behaviour: { kind: 'delay', ms: 200 },
    })
    await publishRaw(bus, 5)
    await waitFor(async () => (await firstSubscription(bus))?.inFlight === 2)
    expect((await firstSubscription(bus))?.queueDepth).toBe(3)
    await waitFor(async () => (await firstSubscription(bus))?.delivered === 5, 5_000)
  })

  it('loses no Reliable message when a worker dies mid-stream and its identity re-attaches', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 30_000 })
    const filter = { types: ['RawEvent'] }
    const mode = DeliveryMode.Reliable({ timeoutMs: 2000 })
    // Receipts in shared memory: a killed worker's receipts survive it, unlike its last messages.
    const receipts = new Int32Array(new SharedArrayBuffer(500 * 4))
    const first = await endpoint(hub, ModuleId.Storage, everything as never, receipts)
    await first.call({ op: 'subscribe', filter, mode, behaviour: { kind: 'delay', ms: 2 } })
    const publishing = (async () => {
      for (let batch = 0; batch < 20; batch++) {
        await publishSequence(bus, batch * 25, 25)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    await waitFor(async () => (await bus.metrics()).messagesDelivered > 100)
    await first.terminate() // killed mid-stream: in-flight deliveries are never acknowledged
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true)
    await publishing
    const second = await endpoint(hub, ModuleId.Storage, everything as never, receipts)
    const resumedId = await second.call<string>({ op: 'subscribe', filter, mode, behaviour: { kind: 'ok' } })
    expect(resumedId).toBe((await bus.metrics()).subscriptions[0]?.id) // the same subscription, resumed
    await waitFor(
      async () => (await bus.metrics()).currentQueueDepth === 0 && (await bus.metrics()).inFlight === 0,
    )
    // Every message reached an endpoint's handler (some possibly twice: at least once).
    expect(receipts.indexOf(0)).toBe(-1)
    expect(bus.deadLetters.list()).toEqual([])
    await expectAccounted(bus)
  })

  it('dead-letters held messages as SubscriberUnavailable when nobody re-attaches within the grace period', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 150 })
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 1000 }),
      behaviour: { kind: 'ok' },
    })
    await storage.terminate()
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.parked === true)
    await publishRaw(bus, 7)
    expect((await bus.metrics()).currentQueueDepth).toBe(7) // held, not attempted
    await waitFor(() => bus.deadLetters.list().length === 7)
    expect(new Set(bus.deadLetters.list().map((e) => e.reason))).toEqual(new Set(['SubscriberUnavailable']))
    expect((await bus.metrics()).subscriptions).toEqual([])
  })

  it('a hung worker the heartbeat cut off does not run its backlog when it wakes: the hub ended it', async () => {
    const count = 200
    const receipts = new Int32Array(new SharedArrayBuffer(4 * count))
    const { bus, hub } = await startHub({ workers: 4 }, { heartbeatMs: 400, reconnectGraceMs: 300 })
    const storage = await endpoint(hub, ModuleId.Storage, everything as never, receipts)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 5_000 }),
      behaviour: { kind: 'delay', ms: 5 },
    })
    await publishSequence(bus, 0, count)
    await waitFor(() => receipts.some((deliveries) => deliveries > 0))
    // Hangs with a window of deliveries waiting at it; the hub parks its subscription, then gives up.
    // (400 ms heartbeats: tight enough to notice a 4 s hang, loose enough that a loaded machine's
    // pauses before it are not taken for one.)
    const blocked = storage.call({ op: 'block', ms: 4_000 }).catch(() => {})
    await waitFor(() => bus.deadLetters.list().length > 0, 5_000)
    await blocked
    await new Promise((resolve) => setTimeout(resolve, 500)) // it woke, and reads its port closed
    const deadLettered = new Set(
      bus.deadLetters
        .list()
        .map((entry) => (entry.message.payload.data as { data: { seq: number } }).data.seq),
    )
    const seqs = Array.from({ length: count }, (_, seq) => seq)
    const ran = (seq: number) => (receipts[seq] ?? 0) > 0
    expect(seqs.filter((seq) => !ran(seq) && !deadLettered.has(seq))).toEqual([])
    // Both: those running as it hung, and at most one more per handler slot freed on waking before
    // it read the close. Before, it ran its whole backlog.
    expect(seqs.filter((seq) => ran(seq) && deadLettered.has(seq)).length).toBeLessThanOrEqual(2 * 4)
    await expectAccounted(bus)
  })

  it('counts no timeout for a delivery acknowledged while the hub’s thread was away', async () => {
    const receipts = new Int32Array(new SharedArrayBuffer(4))
    const { bus, hub } = await startHub()
    const storage = await endpoint(hub, ModuleId.Storage, everything as never, receipts)
    await storage.call({
      op: 'subscribe',
      filter: { types: ['RawEvent'] },
      mode: DeliveryMode.Reliable({ timeoutMs: 200 }),
      behaviour: { kind: 'ok' },
    })
    await publishSequence(bus, 0, 1)
    await new Promise((resolve) => setImmediate(resolve)) // the delivery leaves
    // The hub's thread is away past the ack's deadline (200 ms + the grace): a busy main process,
    // or a machine asleep. The endpoint ran the delivery meanwhile; its ack waits in the port.
    stallThisThread(2_000)
    await waitFor(async () => (await bus.metrics()).messagesDelivered === 1)
    await new Promise((resolve) => setTimeout(resolve, 300)) // more sweeps: nothing changes
    const metrics = await bus.metrics()
    expect([metrics.messagesDelivered, metrics.messagesFailed, metrics.messagesRetried]).toEqual([1, 0, 0])
    expect(receipts[0]).toBe(1)
    await expectAccounted(bus)
  })

  it('ends BestEffort and LatestOnly subscriptions of a lost worker at once', async () => {
    const { bus, hub } = await startHub()
    const figurine = await endpoint(hub, ModuleId.CuteFigurine)
    await figurine.call({
      op: 'subscribe',
      filter: {},
      mode: DeliveryMode.BestEffort,
      behaviour: { kind: 'ok' },
    })
    await figurine.call({
      op: 'subscribe',
      filter: {},
      mode: DeliveryMode.LatestOnly,
      behaviour: { kind: 'ok' },
    })
    expect((await bus.metrics()).subscriptions).toHaveLength(2)
    await figurine.terminate()
    await waitFor(async () => (await bus.metrics()).subscriptions.length === 0)
  })

  it('ends every subscription at once when the endpoint closes on purpose', async () => {
    const { bus, hub } = await startHub()
    const storage = await endpoint(hub, ModuleId.Storage)
    await storage.call({
      op: 'subscribe',
      filter: {},
      mode: DeliveryMode.Reliable({ timeoutMs: 1000 }),
      behaviour: { kind: 'ok' },
    })
    await storage.call({ op: 'close' })
    await waitFor(async () => (await bus.metrics()).subscriptions.length === 0)
    expect(hub.attachments()).toEqual([])
  })

  describe('authority', () => {
    const capturePermissions = { publish: ['RawEvent'], subscribe: ['ConfigUpdate'] }

    it('refuses a message whose source is another module', async () => {
      const { bus, hub } = await startHub()
      const capture = await endpoint(hub, ModuleId.DataCapture, capturePermissions as never)
      const result = await capture.call<{ ok: number; errors: { kind: string; action: string }[] }>({
        op: 'publish',
        count: 1,
        prefix: 'x',
        source: ModuleId.Storage,
      })
      expect(result.ok).toBe(0)
      expect(result.errors[0]).toMatchObject({
        kind: 'Unauthorized',
        action: 'source',
        module: 'data-capture',
      })
      expect((await bus.metrics()).messagesPublished).toBe(0)
    })

    it('refuses ungranted publish and subscribe types, and inspection', async () => {
      const { hub } = await startHub()
      const capture = await endpoint(hub, ModuleId.DataCapture, capturePermissions as never)
      const published = await capture.call<{ errors: { kind: string; action: string; type: string }[] }>({
        op: 'publish',
        count: 1,
        prefix: 'x',
        type: 'Shutdown',
      })
      expect(published.errors[0]).toMatchObject({ kind: 'Unauthorized', action: 'publish', type: 'Shutdown' })
      await expect(
        capture.call({
          op: 'subscribe',
          filter: { types: ['RawEvent'] },
          mode: DeliveryMode.BestEffort,
          behaviour: { kind: 'ok' },
        }),
      ).rejects.toMatchObject({ kind: 'Unauthorized', action: 'subscribe', type: 'RawEvent' })
      await expect(capture.call({ op: 'metrics' })).rejects.toMatchObject({
        kind: 'Unauthorized',
        action: 'inspect',
      })
    })

    it('narrows a filter without types to the granted types', async () => {
      const { bus, hub } = await startHub()
      const capture = await endpoint(hub, ModuleId.DataCapture, capturePermissions as never)
      await capture.call({
        op: 'subscribe',
        filter: {},
        mode: DeliveryMode.BestEffort,
        behaviour: { kind: 'ok' },
      })
      expect((await bus.metrics()).subscriptions[0]?.filter).toBe('types=[ConfigUpdate] sources=*')
      await publishRaw(bus, 3)
      await bus.publish(
        BusMessage.create(
          ModuleId.Orchestrator,
          MessagePayload.ConfigUpdate({ configKey: 'rate', configValue: 5 }),
        ),
      )
      await waitFor(async () => (await capture.call<Received>({ op: 'received' })).length === 1)
      expect((await capture.call<{ type: string }[]>({ op: 'received' }))[0]?.type).toBe('ConfigUpdate')
    })

    it('refuses an oversize message with MessageRejected before routing it', async () => {
      const { bus, hub } = await startHub({ maxMessageBytes: 2048 })
      const capture = await endpoint(hub, ModuleId.DataCapture)
      await expect(
        capture.call({
          op: 'publishData',
          type: 'RawEvent',
          data: { eventType: 'big', data: 'x'.repeat(4096), timestamp: new Date() },
        }),
      ).rejects.toMatchObject({ kind: 'MessageRejected' })
      expect((await bus.metrics()).messagesPublished).toBe(0)
    })

    it('carries Date fields and rejects invalid payloads with the zod issues', async () => {
      const { bus, hub } = await startHub()
      const storage = await endpoint(hub, ModuleId.Storage)
      const at = new Date('2026-11-30T08:00:00Z')
      await storage.call({
        op: 'publishData',
        type: 'StorageStatus',
        data: { totalEvents: 1, storageSizeBytes: 2, lastBatchTime: at },
      })
      const error = await storage
        .call<never>({
          op: 'publishData',
          type: 'StorageStatus',
          data: { totalEvents: -1, storageSizeBytes: 2, lastBatchTime: at },
        })
        .catch((e: { issues: { path: unknown[] }[] }) => e)
      expect(error).toMatchObject({ kind: 'MessageRejected' })
      expect(error.issues[0]?.path).toEqual(['payload', 'data', 'totalEvents'])
      expect((await bus.metrics()).messagesPublished).toBe(1)
    })
  })
})
