import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  BusMessage,
  busMetricsSchema,
  createEventBus,
  DeliveryMode,
  EventBusError,
  isEventBusError,
  isRecoverable,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { busInternals, type WithInternals } from '../../src/main/bus/internal.js'
import { deferred, flushMicrotasks, rawMessage, shutDownAfterEach } from '../helpers.js'

const shutDown = shutDownAfterEach()

describe('metrics', () => {
  it('returns a snapshot matching the documented shape', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 100 }),
      async () => {},
    )
    await bus.publish(rawMessage())
    await flushMicrotasks()
    const metrics = await bus.metrics()
    expect(busMetricsSchema.safeParse(metrics).success).toBe(true)
    expect(metrics).toMatchObject({
      messagesPublished: 1,
      messagesDelivered: 1,
      maxQueueSize: 10_000,
      deliveryLatency: { count: 1 },
      deadLetters: { size: 0, capacity: 1000, evicted: 0, changes: 0 },
      modules: { 'data-capture': { published: 1 }, storage: { delivered: 1 } },
      types: { RawEvent: { published: 1, delivered: 1 } },
    })
    expect(metrics.subscriptions[0]).toMatchObject({
      module: 'storage',
      mode: 'Reliable',
      filter: 'types=[RawEvent] sources=*',
      routed: 1,
      delivered: 1,
    })
    expect(metrics.uptimeMs).toBeGreaterThanOrEqual(0)
    expect(metrics.collectedAt).toBeInstanceOf(Date)
    expect(metrics.throughputPerSec).toBeGreaterThan(0)
  })

  it('counts its uptime from start, and none before', async () => {
    const bus = shutDown(createEventBus())
    expect((await bus.metrics()).uptimeMs).toBe(0)
    await bus.start()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await bus.metrics()).uptimeMs).toBeGreaterThanOrEqual(15)
  })

  it('keeps the queue depth live: it goes down as messages are delivered', async () => {
    const bus = shutDown(createEventBus({ workers: 1 }))
    await bus.start()
    const gates = [deferred(), deferred(), deferred()]
    let call = 0
    await bus.subscribe(
      ModuleId.Storage,
      {},
      DeliveryMode.Reliable({ timeoutMs: 10_000 }),
      () => gates[call++]?.promise,
    )
    for (let i = 0; i < 3; i++) await bus.publish(rawMessage())
    await flushMicrotasks()
    const depths: number[] = [(await bus.metrics()).currentQueueDepth]
    for (const gate of gates) {
      gate.resolve()
      await flushMicrotasks()
      depths.push((await bus.metrics()).currentQueueDepth)
    }
    expect(depths).toEqual([2, 1, 0, 0])
  })

  it('counts each type and each module apart when messages of several interleave', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {})
    const fromAnalysis = (n: number) =>
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: `s${n}`, confidence: 1, timestamp: new Date() }),
      )
    const published = [
      rawMessage(),
      fromAnalysis(1),
      fromAnalysis(2),
      rawMessage(),
      rawMessage(),
      fromAnalysis(3),
    ]
    for (const message of published) await bus.publish(message)
    await flushMicrotasks()
    const { types, modules } = await bus.metrics()
    expect(types).toMatchObject({
      RawEvent: { published: 3, delivered: 3 },
      StateChange: { published: 3, delivered: 3 },
    })
    expect(modules).toMatchObject({
      'data-capture': { published: 3, delivered: 0 },
      'analysis-engine': { published: 3, delivered: 0 },
      storage: { published: 0, delivered: 6 },
    })
  })

  it('counts publishes no subscription took, by type and module, but not what the registry takes', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    // Storage takes RawEvents from its first subscription on, and only those with a predicate's yes.
    const stateChange = () =>
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'focused', confidence: 1, timestamp: new Date() }),
      )
    await bus.publish(rawMessage())
    await bus.publish(stateChange())
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']).withPredicate((m) => m.payload.data.eventType !== 'ignored'),
      DeliveryMode.BestEffort,
      () => {},
    )
    await bus.publish(rawMessage())
    await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'ignored' }))
    // The registry takes a module's own ModuleReady and HealthCheck; another's HealthCheck it does not.
    await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)))
    const check = (moduleId: string) =>
      BusMessage.create(ModuleId.Storage, MessagePayload.HealthCheck({ moduleId, timestamp: new Date() }))
    await bus.publish(check(ModuleId.Storage))
    await bus.publish(check(ModuleId.Gamification))
    await flushMicrotasks()
    const metrics = await bus.metrics()
    expect(metrics.messagesPublished).toBe(7)
    expect(metrics.messagesUnrouted).toBe(4)
    expect(metrics.types).toMatchObject({
      RawEvent: { published: 3, unrouted: 2 },
      StateChange: { published: 1, unrouted: 1 },
      ModuleReady: { published: 1, unrouted: 0 },
      HealthCheck: { published: 2, unrouted: 1 },
    })
    expect(metrics.modules).toMatchObject({
      'data-capture': { published: 3, unrouted: 2 },
      'analysis-engine': { published: 1, unrouted: 1 },
      storage: { published: 3, unrouted: 1 },
    })
    // A subscription counts its copies, not publishes.
    expect(metrics.subscriptions[0]).not.toHaveProperty('unrouted')
  })

  it('does not count as unrouted a direct route’s copy that reached no subscription besides the route’s', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      () => {},
    )
    // As the hub routes a route's copy: the subscriptions the route served are skipped.
    const internals = (bus as unknown as WithInternals)[busInternals]
    internals.publish(rawMessage(), new Set(internals.subscribersOf('RawEvent')))
    const metrics = await bus.metrics()
    expect(metrics.messagesPublished).toBe(1)
    expect(metrics.messagesUnrouted).toBe(0)
    expect(metrics.types.RawEvent?.unrouted).toBe(0)
  })

  it('gives a second reader in the same interval the same recent latency, not an empty sliver', async () => {
    const bus = shutDown(createEventBus({ metricsIntervalMs: 500 }))
    await bus.start()
    await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {})
    for (let n = 0; n < 5; n++) await bus.publish(rawMessage())
    await flushMicrotasks()
    await new Promise((resolve) => setTimeout(resolve, 500)) // an interval has passed
    const inspector = await bus.metrics() // ends the interval
    const another = await bus.metrics() // a second inspector, or a test polling, right after
    for (const reading of [inspector, another]) {
      expect(reading.recentLatency.count).toBe(5)
      expect(reading.subscriptions[0]?.recentLatency.count).toBe(5)
    }
    await bus.shutdown()
  })

  it('keeps latency samples of ended subscriptions in the bus-wide histogram', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const id = await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {})
    await bus.publish(rawMessage())
    await flushMicrotasks()
    await bus.unsubscribe(id)
    const metrics = await bus.metrics()
    expect(metrics.subscriptions).toEqual([])
    expect(metrics.deliveryLatency.count).toBe(1)
  })
})

describe('errors', () => {
  it('carries a kind and typed fields, and says what to do', () => {
    const error = EventBusError.of('QueueFull', { currentSize: 10, maxSize: 10 })
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(EventBusError)
    expect(error.name).toBe('EventBusError')
    expect(error.message).toMatch(/QueueFull.*10 of 10.*slow down or retry/)
    if (error.kind === 'QueueFull') expectTypeOf(error.maxSize).toBeNumber()
    expect(error.toData()).toEqual({ kind: 'QueueFull', currentSize: 10, maxSize: 10 })
    const rebuilt = EventBusError.fromData(error.toData(), error.message)
    expect(rebuilt).toMatchObject({ kind: 'QueueFull', currentSize: 10, message: error.message })
  })

  it('sends an Unauthorized reader to the permissions only where a grant mends it', () => {
    const messageOf = (action: 'publish' | 'subscribe' | 'inspect', type?: string) =>
      EventBusError.of('Unauthorized', { module: 'storage', action, ...(type ? { type } : {}) }).message
    expect(messageOf('subscribe', 'RawEvent')).toBe(
      "Unauthorized: module 'storage' may not subscribe 'RawEvent'; grant it in the attachment's permissions",
    )
    expect(messageOf('inspect')).toBe(
      "Unauthorized: module 'storage' may not inspect the bus; grant it in the attachment's permissions",
    )
    // Refused without a type, it asked as someone else: no grant mends that.
    for (const action of ['publish', 'subscribe'] as const) {
      expect(messageOf(action)).toBe(
        `Unauthorized: module 'storage' may ${action} only as itself, not as another module nor on a channel it is not that end of`,
      )
    }
  })

  it('classifies recoverable errors', () => {
    expect(isRecoverable(EventBusError.of('QueueFull', { currentSize: 1, maxSize: 1 }))).toBe(true)
    expect(
      isRecoverable(EventBusError.of('SubscriberUnavailable', { subscriber: 'storage', retryAfterMs: 5 })),
    ).toBe(true)
    expect(isRecoverable(EventBusError.of('DeliveryTimeout', { elapsedMs: 5 }))).toBe(true)
    for (const error of [
      EventBusError.of('BusShuttingDown', {}),
      EventBusError.of('NotStarted', {}),
      EventBusError.of('SubscriptionNotFound', { subscriptionId: 'x' }),
      EventBusError.of('MessageRejected', { reason: 'r', issues: [] }),
      EventBusError.of('InvalidFilter', { reason: 'r' }),
      EventBusError.of('Unauthorized', { module: 'm', action: 'publish', type: 'RawEvent' }),
      EventBusError.of('Disconnected', {}),
      EventBusError.of('Configuration', { reason: 'r' }),
      new Error('plain'),
    ]) {
      expect(isRecoverable(error)).toBe(false)
    }
    expect(isEventBusError(EventBusError.of('NotStarted', {}), 'NotStarted')).toBe(true)
    expect(isEventBusError(EventBusError.of('NotStarted', {}), 'QueueFull')).toBe(false)
    expect(isEventBusError(new Error('x'))).toBe(false)
  })

  it('says a rejected message’s first five issues, the whole value as (root), and nothing more without any', () => {
    const issue = (path: (string | number)[], message: string) => ({ path, message, code: 'custom' })
    const rejected = (issues: ReturnType<typeof issue>[]) =>
      EventBusError.of('MessageRejected', { reason: 'it is wrong', issues }).message
    expect(rejected([])).toBe('MessageRejected: it is wrong')
    expect(rejected([issue([], 'not an object')])).toBe(
      'MessageRejected: it is wrong ((root): not an object)',
    )
    const seven = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((key, i) =>
      issue(['payload', 'data', key, i], 'bad'),
    )
    expect(rejected(seven)).toBe(
      'MessageRejected: it is wrong (payload.data.a.0: bad; payload.data.b.1: bad; payload.data.c.2: bad; payload.data.d.3: bad; payload.data.e.4: bad)',
    )
  })

  it('says why a connection closed when it knows', () => {
    expect(EventBusError.of('Disconnected', {}).message).toBe(
      'Disconnected: the connection to the hub is closed',
    )
    expect(EventBusError.of('Disconnected', { reason: 'the hub shut down' }).message).toBe(
      'Disconnected: the connection to the hub is closed (the hub shut down)',
    )
  })
})

describe('custom catalog', () => {
  it('validates, routes and types application message types', async () => {
    const bus = shutDown(
      createEventBus({
        catalog: { 'figurine.Pose': z.object({ pose: z.enum(['sit', 'wave']), at: z.date() }) },
      }),
    )
    await bus.start()
    const got: string[] = []
    await bus.subscribe(
      ModuleId.CuteFigurine,
      MessageFilter.types(['figurine.Pose']),
      DeliveryMode.BestEffort,
      (m) => {
        expectTypeOf(m.payload.data.pose).toEqualTypeOf<'sit' | 'wave'>()
        got.push(m.payload.data.pose)
      },
    )
    await bus.publish(
      BusMessage.create(ModuleId.AiIntegration, {
        type: 'figurine.Pose',
        data: { pose: 'wave' as const, at: new Date() },
      }),
    )
    await expect(
      bus.publish(
        BusMessage.create(ModuleId.AiIntegration, {
          type: 'figurine.Pose',
          data: { pose: 'jump', at: new Date() },
        } as never),
      ),
    ).rejects.toMatchObject({ kind: 'MessageRejected' })
    // Built-in types keep working next to custom ones.
    await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady('storage')))
    await flushMicrotasks()
    expect(got).toEqual(['wave'])
  })
})
