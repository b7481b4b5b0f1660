import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type EventBus,
  type EventBusConfigInput,
  EventBusError,
  isRecoverable,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { MAX_FAILURE_TEXT } from '../../src/shared/failure-text.js'
import {
  advance,
  deferred,
  expectAccounted,
  expectResultsSettled,
  flushMicrotasks,
  RESULT_NAMES,
  rawMessage,
  resultNamed,
  shutDownAfterEach,
  thenGetterThatThrows,
  thenThatThrows,
  useFakeClock,
} from '../helpers.js'

const shutDown = shutDownAfterEach()

const RAW = MessageFilter.types(['RawEvent'])

async function startedBus(config: EventBusConfigInput = {}): Promise<EventBus> {
  const bus = shutDown(
    createEventBus({ retry: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 }, ...config }),
  )
  await bus.start()
  return bus
}

describe('delivery', () => {
  beforeEach(() => {
    useFakeClock()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('never delivers inside publish’s call stack', async () => {
    const bus = await startedBus()
    const seen: string[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.BestEffort, () => {
      seen.push('handler')
    })
    const published = bus.publish(rawMessage())
    seen.push('after publish')
    await published
    await flushMicrotasks()
    expect(seen).toEqual(['after publish', 'handler'])
  })

  it('hands handlers the published object itself, its envelope and payload frozen by the publish', async () => {
    const bus = await startedBus()
    const seen: unknown[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.BestEffort, (m) => {
      seen.push(m)
    })
    const built = rawMessage()
    const unfrozen = { ...built, payload: { ...built.payload } }
    await bus.publish(unfrozen)
    await flushMicrotasks()
    expect(seen).toEqual([unfrozen])
    expect(seen[0]).toBe(unfrozen)
    expect([Object.isFrozen(unfrozen), Object.isFrozen(unfrozen.payload)]).toEqual([true, true])
  })

  it('delivers equal priorities in publish order and higher priorities first', async () => {
    const bus = await startedBus({ workers: 1 })
    const order: string[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.BestEffort, (m) => {
      order.push(`${m.priority}:${m.payload.data.eventType}`)
    })
    // Published in one tick: all are pending together when delivery starts.
    const publishes = [
      bus.publish(rawMessage(MessagePriority.Low, { eventType: 'l1' })),
      bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'n1' })),
      bus.publish(rawMessage(MessagePriority.Critical, { eventType: 'c1' })),
      bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'n2' })),
      bus.publish(rawMessage(MessagePriority.High, { eventType: 'h1' })),
      bus.publish(rawMessage(MessagePriority.Critical, { eventType: 'c2' })),
      bus.publish(rawMessage(MessagePriority.Low, { eventType: 'l2' })),
    ]
    await Promise.all(publishes)
    await flushMicrotasks()
    expect(order).toEqual(['3:c1', '3:c2', '2:h1', '1:n1', '1:n2', '0:l1', '0:l2'])
  })

  it('runs at most `workers` deliveries at once per subscription', async () => {
    const bus = await startedBus({ workers: 3 })
    let running = 0
    let peak = 0
    const gates: (() => void)[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 10_000 }), () => {
      running++
      peak = Math.max(peak, running)
      const gate = deferred()
      gates.push(() => {
        running--
        gate.resolve()
      })
      return gate.promise
    })
    for (let i = 0; i < 10; i++) await bus.publish(rawMessage())
    await flushMicrotasks()
    expect(running).toBe(3)
    expect((await bus.metrics()).inFlight).toBe(3)
    while (gates.length > 0) {
      gates.shift()?.()
      await flushMicrotasks()
    }
    expect(peak).toBe(3)
    expect((await bus.metrics()).messagesDelivered).toBe(10)
  })

  describe('BestEffort', () => {
    it('drops the new copy when the queue is full and counts it', async () => {
      const bus = await startedBus({ maxQueueSize: 2, workers: 1 })
      const gate = deferred()
      const got: string[] = []
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.BestEffort, async (m) => {
        got.push(m.payload.data.eventType)
        await gate.promise
      })
      await bus.publish(rawMessage(1, { eventType: 'first' }))
      await flushMicrotasks() // 'first' is in flight, the queue is empty
      for (const name of ['a', 'b', 'c', 'd']) await bus.publish(rawMessage(1, { eventType: name }))
      const metrics = await bus.metrics()
      expect(metrics.messagesDropped).toBe(2)
      expect(metrics.currentQueueDepth).toBe(2)
      gate.resolve()
      await flushMicrotasks()
      expect(got).toEqual(['first', 'a', 'b'])
      await expectAccounted(bus)
    })

    it('counts a throwing or timed-out handler as failed and dropped, never retried', async () => {
      const bus = await startedBus({ deliveryTimeoutMs: 50 })
      let calls = 0
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.BestEffort, (m) => {
        calls++
        if (m.payload.data.eventType === 'throw') throw new Error('boom')
        return new Promise(() => {}) // never settles
      })
      await bus.publish(rawMessage(1, { eventType: 'throw' }))
      await bus.publish(rawMessage(1, { eventType: 'hang' }))
      await advance(1000)
      const metrics = await bus.metrics()
      expect(calls).toBe(2)
      expect(metrics).toMatchObject({
        messagesFailed: 2,
        messagesDropped: 2,
        messagesRetried: 0,
        inFlight: 0,
      })
      expect(bus.deadLetters.list()).toEqual([])
      await expectAccounted(bus)
    })
  })

  describe('Reliable', () => {
    it('treats the settled promise as the ack', async () => {
      const bus = await startedBus()
      const gate = deferred()
      await bus.subscribe(
        ModuleId.Storage,
        RAW,
        DeliveryMode.Reliable({ timeoutMs: 1000 }),
        () => gate.promise,
      )
      await bus.publish(rawMessage())
      await flushMicrotasks()
      expect((await bus.metrics()).inFlight).toBe(1)
      gate.resolve()
      await flushMicrotasks()
      expect(await bus.metrics()).toMatchObject({ inFlight: 0, messagesDelivered: 1, messagesFailed: 0 })
    })

    it('retries a failing handler with exponential backoff, then dead-letters it', async () => {
      const bus = await startedBus({ maxRetryAttempts: 3 })
      const attemptTimes: number[] = []
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), async () => {
        attemptTimes.push(Date.now())
        throw new TypeError('disk unplugged')
      })
      const start = Date.now()
      const message = rawMessage()
      await bus.publish(message)
      await advance(5000)
      // First attempt at once, then after 100, 200 and 400 ms (no jitter configured).
      expect(attemptTimes.map((t) => t - start)).toEqual([0, 100, 300, 700])
      const [entry] = bus.deadLetters.list()
      expect(entry).toMatchObject({
        message,
        module: 'storage',
        reason: 'MaxRetriesExceeded',
        attempts: 4,
        lastError: 'TypeError: disk unplugged',
      })
      // The entry keeps when the first attempt failed, not when a later one did.
      expect(entry?.firstFailedAt.getTime()).toBe(start)
      expect(entry?.lastFailedAt.getTime()).toBe(start + 700)
      expect(await bus.metrics()).toMatchObject({
        messagesFailed: 4,
        messagesRetried: 3,
        messagesDeadLettered: 1,
        currentQueueDepth: 0,
      })
      await expectAccounted(bus)
    })

    it.each([
      // Math.random() 0 takes the jitter's whole −50 %; 0.75 adds 25 %, past `maxMs` at the third.
      { random: 0, delays: [50, 100, 125] },
      { random: 0.75, delays: [125, 250, 250] },
    ])('spreads its backoff by the jitter, capped at maxMs (random $random)', async ({ random, delays }) => {
      vi.spyOn(Math, 'random').mockReturnValue(random)
      const bus = await startedBus({
        maxRetryAttempts: 3,
        retry: { initialMs: 100, maxMs: 250, multiplier: 2, jitter: 0.5 },
      })
      const attemptTimes: number[] = []
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), async () => {
        attemptTimes.push(Date.now())
        throw new Error('still down')
      })
      await bus.publish(rawMessage())
      await advance(2000)
      vi.mocked(Math.random).mockRestore()
      expect(attemptTimes.slice(1).map((t, i) => t - (attemptTimes[i] ?? 0))).toEqual(delays)
    })

    it('puts a retry ahead of the copies of its priority that came while it waited', async () => {
      const bus = await startedBus({ workers: 1 })
      const gate = deferred()
      const got: string[] = []
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 10_000 }), async (m) => {
        const { eventType } = m.payload.data
        got.push(eventType)
        if (eventType === 'retried' && got.length === 1) throw new Error('not yet')
        if (eventType === 'slow') await gate.promise
      })
      for (const eventType of ['retried', 'slow', 'later'])
        await bus.publish(rawMessage(MessagePriority.Normal, { eventType }))
      // The retry's backoff (100 ms) ends while 'slow' runs, with 'later' queued.
      await advance(200)
      gate.resolve()
      await advance(0)
      expect(got).toEqual(['retried', 'slow', 'retried', 'later'])
    })

    it('fails an attempt whose promise rejects without a reason', async () => {
      const bus = await startedBus({ maxRetryAttempts: 0 })
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), () =>
        Promise.reject(undefined),
      )
      await bus.publish(rawMessage())
      await flushMicrotasks()
      expect(await bus.metrics()).toMatchObject({
        messagesDelivered: 0,
        messagesFailed: 1,
        messagesDeadLettered: 1,
      })
      expect(bus.deadLetters.list()[0]?.lastError).toBe('Error: rejected without a reason')
      await expectAccounted(bus)
    })

    it('succeeds on a retry after failures', async () => {
      const bus = await startedBus()
      let calls = 0
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), () => {
        calls++
        if (calls < 3) return Promise.reject(new Error('not yet'))
        return Promise.resolve()
      })
      await bus.publish(rawMessage())
      await flushMicrotasks()
      // The copy waiting out its backoff still counts in the queue depth.
      expect((await bus.metrics()).currentQueueDepth).toBe(1)
      await advance(1000)
      expect(calls).toBe(3)
      expect(await bus.metrics()).toMatchObject({
        messagesDelivered: 1,
        messagesFailed: 2,
        currentQueueDepth: 0,
      })
      expect(bus.deadLetters.list()).toHaveLength(0)
    })

    it('fails an attempt that does not settle within timeoutMs and dead-letters it as DeliveryTimeout', async () => {
      const bus = await startedBus({ maxRetryAttempts: 1 })
      let calls = 0
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 200 }), () => {
        calls++
        return new Promise(() => {})
      })
      await bus.publish(rawMessage())
      await advance(199)
      expect((await bus.metrics()).messagesFailed).toBe(0)
      await advance(1)
      expect((await bus.metrics()).messagesFailed).toBe(1)
      await advance(2000)
      expect(calls).toBe(2)
      const [entry] = bus.deadLetters.list()
      expect(entry).toMatchObject({ reason: 'DeliveryTimeout', attempts: 2 })
      expect(entry?.lastError).toMatch(/^EventBusError: DeliveryTimeout/)
      expect((await bus.metrics()).inFlight).toBe(0)
    })

    it('is bounded by deliveryTimeoutMs when its own timeout is longer', async () => {
      const bus = await startedBus({ deliveryTimeoutMs: 100, maxRetryAttempts: 0 })
      await bus.subscribe(
        ModuleId.Storage,
        RAW,
        DeliveryMode.Reliable({ timeoutMs: 60_000 }),
        () => new Promise(() => {}),
      )
      await bus.publish(rawMessage())
      await advance(100)
      expect(bus.deadLetters.list()).toHaveLength(1)
    })

    it('ignores the late result of a timed-out attempt', async () => {
      const bus = await startedBus({ maxRetryAttempts: 0 })
      const late = deferred()
      await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 50 }), () => late.promise)
      await bus.publish(rawMessage())
      await advance(50)
      late.resolve()
      await flushMicrotasks()
      expect(await bus.metrics()).toMatchObject({
        messagesDelivered: 0,
        messagesDeadLettered: 1,
        inFlight: 0,
      })
      await expectAccounted(bus)
    })

    it('refuses a publish that would overflow its queue, before enqueuing anywhere', async () => {
      const bus = await startedBus({ maxQueueSize: 2, workers: 1 })
      const gate = deferred()
      const others: number[] = []
      await bus.subscribe(
        ModuleId.Storage,
        RAW,
        DeliveryMode.Reliable({ timeoutMs: 10_000 }),
        () => gate.promise,
      )
      await bus.subscribe(ModuleId.AnalysisEngine, RAW, DeliveryMode.BestEffort, () => {
        others.push(1)
      })
      await bus.publish(rawMessage())
      await flushMicrotasks() // one in flight
      await bus.publish(rawMessage())
      await bus.publish(rawMessage())
      const error = await bus.publish(rawMessage()).catch((e) => e)
      expect(error).toBeInstanceOf(EventBusError)
      expect(error).toMatchObject({ kind: 'QueueFull', currentSize: 2, maxSize: 2 })
      expect(isRecoverable(error)).toBe(true)
      await flushMicrotasks()
      const metrics = await bus.metrics()
      expect(metrics.messagesPublished).toBe(3)
      expect(others).toHaveLength(3) // the refused message reached nobody
      // Counted as refused: by the bus, its type, its publisher, and the subscription that was full.
      expect(metrics.messagesQueueFull).toBe(1)
      expect(metrics.types.RawEvent?.queueFull).toBe(1)
      expect(metrics.modules[ModuleId.DataCapture]?.queueFull).toBe(1)
      expect(metrics.modules[ModuleId.Storage]?.queueFull).toBe(0)
      const queueFull = Object.fromEntries(metrics.subscriptions.map((s) => [s.module, s.queueFull]))
      expect(queueFull).toEqual({ [ModuleId.Storage]: 1, [ModuleId.AnalysisEngine]: 0 })
      gate.resolve()
    })
  })

  describe('LatestOnly', () => {
    it('keeps only the newest pending message per (type, source) and one in flight', async () => {
      const bus = await startedBus({ workers: 8 })
      const gate = deferred()
      const got: string[] = []
      let running = 0
      let peak = 0
      await bus.subscribe(ModuleId.CuteFigurine, MessageFilter.all(), DeliveryMode.LatestOnly, async (m) => {
        running++
        peak = Math.max(peak, running)
        got.push(
          `${m.source}:${m.payload.type}:${m.payload.type === 'RawEvent' ? m.payload.data.eventType : ''}`,
        )
        await gate.promise
        running--
      })
      await bus.publish(rawMessage(1, { eventType: 'v0' }))
      await flushMicrotasks() // v0 in flight
      for (const v of ['v1', 'v2', 'v3']) await bus.publish(rawMessage(1, { eventType: v }))
      await bus.publish(
        BusMessage.create(
          ModuleId.Storage,
          MessagePayload.RawEvent({ ...rawMessage().payload.data, eventType: 's1' }),
        ),
      )
      await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady('storage')))
      gate.resolve()
      await flushMicrotasks(50)
      expect(peak).toBe(1)
      expect(got).toEqual([
        'data-capture:RawEvent:v0',
        'data-capture:RawEvent:v3',
        'storage:RawEvent:s1',
        'storage:ModuleReady:',
      ])
      const metrics = await bus.metrics()
      expect(metrics.messagesCoalesced).toBe(2)
      await expectAccounted(bus)
    })

    it('delivers the highest priority first; a newer copy keeps its key’s place in line', async () => {
      const bus = await startedBus()
      const gate = deferred()
      const got: string[] = []
      await bus.subscribe(ModuleId.CuteFigurine, MessageFilter.all(), DeliveryMode.LatestOnly, async (m) => {
        got.push(m.payload.type === 'RawEvent' ? m.payload.data.eventType : m.payload.type)
        await gate.promise
      })
      const fromStorage = (eventType: string) =>
        BusMessage.create(
          ModuleId.Storage,
          MessagePayload.RawEvent({ ...rawMessage().payload.data, eventType }),
        )
      await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'in flight' }))
      await flushMicrotasks()
      await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'a1' }))
      await bus.publish(fromStorage('b1'))
      await bus.publish(
        BusMessage.withPriority(
          ModuleId.Storage,
          MessagePayload.ModuleReady('storage'),
          MessagePriority.High,
        ),
      )
      await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'a2' }))
      gate.resolve()
      await flushMicrotasks(50)
      expect(got).toEqual(['in flight', 'ModuleReady', 'a2', 'b1'])
    })

    it('delivers the newest even when a full queue refuses new keys', async () => {
      const bus = await startedBus({ maxQueueSize: 1 })
      const gate = deferred()
      const got: string[] = []
      await bus.subscribe(ModuleId.CuteFigurine, MessageFilter.all(), DeliveryMode.LatestOnly, async (m) => {
        got.push(m.payload.type === 'RawEvent' ? m.payload.data.eventType : m.payload.type)
        await gate.promise
      })
      await bus.publish(rawMessage(1, { eventType: 'first' }))
      await flushMicrotasks()
      await bus.publish(rawMessage(1, { eventType: 'second' }))
      await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady('storage'))) // new key: full
      await bus.publish(rawMessage(1, { eventType: 'third' })) // same key: replaces 'second'
      gate.resolve()
      await flushMicrotasks(50)
      expect(got).toEqual(['first', 'third'])
      expect(await bus.metrics()).toMatchObject({ messagesDropped: 1, messagesCoalesced: 1 })
      await expectAccounted(bus)
    })
  })
})

describe('handler latency and slow handlers', () => {
  it('measures latency from publish to settlement and counts slow handlers', async () => {
    const bus = shutDown(createEventBus({ slowHandlerThresholdMs: 20 }))
    await bus.start()
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), async (m) => {
      if (m.payload.data.eventType === 'slow') await new Promise((resolve) => setTimeout(resolve, 40))
    })
    await bus.publish(rawMessage(1, { eventType: 'fast' }))
    await bus.publish(rawMessage(1, { eventType: 'slow' }))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const metrics = await bus.metrics()
    expect(metrics.deliveryLatency.count).toBe(2)
    expect(metrics.deliveryLatency.maxMs).toBeGreaterThanOrEqual(35)
    expect(metrics.deliveryLatency.p50Ms).toBeLessThanOrEqual(metrics.deliveryLatency.maxMs)
    expect(metrics.subscriptions[0]?.slowHandlers).toBe(1)
    expect(metrics.subscriptions[0]?.latency.count).toBe(2)
  })

  it('counts a slow handler as slow whether it succeeds or fails', async () => {
    const bus = shutDown(createEventBus({ slowHandlerThresholdMs: 20, maxRetryAttempts: 0 }))
    await bus.start()
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), async (m) => {
      await new Promise((resolve) => setTimeout(resolve, 40))
      if (m.payload.data.eventType === 'failing') throw new Error('slow and failing')
    })
    await bus.publish(rawMessage(1, { eventType: 'failing' }))
    await bus.publish(rawMessage(1, { eventType: 'succeeding' }))
    await new Promise((resolve) => setTimeout(resolve, 150))
    const metrics = await bus.metrics()
    expect(metrics).toMatchObject({ messagesDelivered: 1, messagesFailed: 1 })
    expect(metrics.subscriptions[0]?.slowHandlers).toBe(2)
  })

  it('counts a thenable whose then() throws as one failed attempt, and nothing more on shutdown', async () => {
    const bus = await startedBus({ maxRetryAttempts: 0 })
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), () =>
      thenThatThrows(new RangeError('broken thenable')),
    )
    await bus.publish(rawMessage())
    await flushMicrotasks()
    expect(bus.deadLetters.list()).toHaveLength(1)
    expect(bus.deadLetters.list()[0]?.lastError).toMatch(/broken thenable/)
    await bus.shutdown({ drainTimeoutMs: 0 })
    expect(bus.deadLetters.list()).toHaveLength(1)
    await expectAccounted(bus)
  })

  it('dead-letters what a handler threw even when nothing can describe it, and keeps delivering', async () => {
    const bus = await startedBus({ maxRetryAttempts: 0 })
    const throwing = (what: string) => () => {
      throw new Error(what)
    }
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const thrown: Record<string, unknown> = {
      indescribable: { toJSON: throwing('toJSON'), toString: throwing('toString') },
      'unnamed error': Object.defineProperty(new Error('no name'), 'name', { get: throwing('name') }),
      symbol: Symbol('lost'),
      circular,
      bigint: 10n,
    }
    const seen: string[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), (message) => {
      const { eventType } = message.payload.data
      seen.push(eventType)
      if (eventType in thrown) throw thrown[eventType]
    })
    for (const eventType of [...Object.keys(thrown), 'fine'])
      await bus.publish(rawMessage(MessagePriority.Normal, { eventType }))
    await flushMicrotasks()
    expect(seen).toEqual([...Object.keys(thrown), 'fine'])
    expect(bus.deadLetters.list().map((entry) => entry.lastError)).toEqual([
      'Thrown: a value that cannot be described (reading it as text threw)',
      'Thrown: a value that cannot be described (reading it as text threw)',
      'Thrown: Symbol(lost)',
      'Thrown: [object Object]',
      'Thrown: 10',
    ])
    await expectAccounted(bus)
  })

  it('keeps a failure’s text to MAX_FAILURE_TEXT characters, as an endpoint’s nack carries it', async () => {
    const bus = await startedBus({ maxRetryAttempts: 0 })
    const long = 'x'.repeat(MAX_FAILURE_TEXT * 3)
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), () => {
      throw new RangeError(long)
    })
    await bus.publish(rawMessage(MessagePriority.Normal))
    await flushMicrotasks()
    const [entry] = bus.deadLetters.list()
    expect(entry?.lastError).toBe(`RangeError: ${long}`.slice(0, MAX_FAILURE_TEXT))
    expect(entry?.lastError).toHaveLength(MAX_FAILURE_TEXT)
  })

  it('counts a result whose `then` getter throws as one failed attempt, and keeps delivering', async () => {
    const bus = await startedBus({ maxRetryAttempts: 0 })
    const seen: string[] = []
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), (message) => {
      seen.push(message.payload.data.eventType)
      if (message.payload.data.eventType !== 'broken') return undefined
      return thenGetterThatThrows(new RangeError('then getter'))
    })
    await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'broken' }))
    await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'fine' }))
    await flushMicrotasks()
    expect(seen).toEqual(['broken', 'fine'])
    expect(bus.deadLetters.list().map((entry) => entry.lastError)).toEqual(['RangeError: then getter'])
    expect((await bus.metrics()).inFlight).toBe(0)
    await expectAccounted(bus)
  })

  it('settles a result that is no promise (null, 0, a `then` that is no function…) as delivered, and awaits a thenable function', async () => {
    const bus = await startedBus({ maxRetryAttempts: 0 })
    await bus.subscribe(ModuleId.Storage, RAW, DeliveryMode.Reliable({ timeoutMs: 1000 }), (message) =>
      resultNamed(message.payload.data.eventType),
    )
    for (const name of RESULT_NAMES)
      await bus.publish(rawMessage(MessagePriority.Normal, { eventType: name }))
    await flushMicrotasks()
    await expectResultsSettled(bus)
  })
})
