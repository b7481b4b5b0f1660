import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
  ModuleStatus,
} from '../../src/main/bus/index.js'
import type { DeadLetterEntry } from '../../src/shared/dead-letter.js'
import {
  advance,
  deferred,
  expectAccounted,
  flushMicrotasks,
  rawMessage,
  useFakeClock,
  validData,
} from '../helpers.js'

/** Dead letters of RawEvents named `eventTypes`, as a bus whose one subscriber fails leaves them. */
async function deadLettersOf(eventTypes: string[]): Promise<DeadLetterEntry[]> {
  const bus = createEventBus({ maxRetryAttempts: 0 })
  await bus.start()
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.Reliable(), () =>
    Promise.reject(new Error('down')),
  )
  for (const eventType of eventTypes) await bus.publish(rawMessage(1, { eventType }))
  await flushMicrotasks()
  const entries = bus.deadLetters.list()
  await bus.shutdown({ drainTimeoutMs: 0 })
  return entries
}

describe('lifecycle', () => {
  beforeEach(() => {
    useFakeClock()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('rejects publish before start with NotStarted, but accepts subscribe', async () => {
    const bus = createEventBus()
    await expect(bus.publish(rawMessage())).rejects.toMatchObject({ kind: 'NotStarted' })
    const got: unknown[] = []
    await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, (m) => {
      got.push(m)
    })
    await bus.start()
    await bus.start() // idempotent
    await bus.publish(rawMessage())
    await flushMicrotasks()
    expect(got).toHaveLength(1)
  })

  it('reports failures by rejecting, never by throwing synchronously', () => {
    const bus = createEventBus()
    expect(() => bus.publish(null as never).catch(() => {})).not.toThrow()
    expect(() =>
      bus.subscribe(null as never, null as never, null as never, null as never).catch(() => {}),
    ).not.toThrow()
    expect(() => bus.unsubscribe('nope').catch(() => {})).not.toThrow()
  })

  it('drains queued and in-flight deliveries on shutdown', async () => {
    const bus = createEventBus({ workers: 1 })
    await bus.start()
    const done: string[] = []
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      async (m) => {
        await new Promise((resolve) => setTimeout(resolve, 10))
        done.push(m.payload.data.eventType)
      },
    )
    for (const name of ['a', 'b', 'c']) await bus.publish(rawMessage(1, { eventType: name }))
    const stopped = bus.shutdown({ drainTimeoutMs: 1000 })
    await expect(bus.publish(rawMessage())).rejects.toMatchObject({ kind: 'BusShuttingDown' })
    await expect(
      bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {}),
    ).rejects.toMatchObject({
      kind: 'BusShuttingDown',
    })
    await advance(100)
    await stopped
    expect(done).toEqual(['a', 'b', 'c'])
    expect(bus.deadLetters.list()).toEqual([])
    expect(bus.state).toBe('stopped')
  })

  it('drains every subscription before it ends any, and the running handler of one unsubscribed', async () => {
    const bus = createEventBus()
    await bus.start()
    const done: string[] = []
    const handler = (ms: number) => async (m: { payload: { data: { eventType: string } } }) => {
      await new Promise((resolve) => setTimeout(resolve, ms))
      done.push(m.payload.data.eventType)
    }
    const reliable = DeliveryMode.Reliable({ timeoutMs: 1000 })
    const raw = MessageFilter.types(['RawEvent'])
    await bus.subscribe(ModuleId.Storage, raw, reliable, handler(10))
    await bus.subscribe(ModuleId.AnalysisEngine, raw, reliable, handler(200))
    const leaving = await bus.subscribe(ModuleId.Gamification, raw, reliable, handler(300))
    await bus.publish(rawMessage(1, { eventType: 'e' }))
    await flushMicrotasks()
    // Unsubscribed while its handler runs: it still counts in flight, and the drain waits for it.
    await bus.unsubscribe(leaving)
    expect((await bus.metrics()).inFlight).toBe(3)
    const stopped = bus.shutdown({ drainTimeoutMs: 1000 })
    await advance(400)
    await stopped
    expect(done).toHaveLength(3)
    expect(bus.deadLetters.list()).toEqual([])
    expect(await bus.metrics()).toMatchObject({ messagesDelivered: 3, inFlight: 0 })
    await expectAccounted(bus)
  })

  it('stays stopped when shut down while its saved dead letters still load, and does not save them again', async () => {
    const saved = await deadLettersOf(['a', 'b'])
    let loaded!: (entries: DeadLetterEntry[]) => void
    const persistence = {
      load: () => new Promise<DeadLetterEntry[]>((resolve) => (loaded = resolve)),
      added: vi.fn(),
      removed: vi.fn(),
      flush: () => Promise.resolve(),
    }
    const bus = createEventBus({ deadLetterPersistence: persistence })
    const starting = bus.start()
    await bus.shutdown()
    loaded(saved)
    await starting
    expect(bus.state).toBe('stopped')
    await expect(bus.publish(rawMessage())).rejects.toMatchObject({ kind: 'BusShuttingDown' })

    const restarted = createEventBus({ deadLetterPersistence: { ...persistence, load: async () => saved } })
    await restarted.start()
    expect(restarted.deadLetters.list().map((entry) => entry.id)).toEqual(saved.map((entry) => entry.id))
    expect(persistence.added).not.toHaveBeenCalled()
    await restarted.shutdown({ drainTimeoutMs: 0 })
  })

  it('flushes its dead-letter persistence as the shutdown ends, after the dead letters the shutdown wrote', async () => {
    const calls: string[] = []
    const bus = createEventBus({
      deadLetterPersistence: {
        load: async () => [],
        added: (entry) => calls.push(`added ${entry.reason}`),
        removed: () => calls.push('removed'),
        flush: async () => {
          calls.push('flush')
        },
      },
    })
    await bus.start()
    await bus.subscribe(
      ModuleId.Storage,
      {},
      DeliveryMode.Reliable({ timeoutMs: 60_000 }),
      () => new Promise(() => {}),
    )
    await bus.publish(rawMessage())
    await flushMicrotasks()
    const stopped = bus.shutdown({ drainTimeoutMs: 0 })
    await advance(10)
    await stopped
    expect(calls).toEqual(['added Shutdown', 'flush'])
  })

  it('dead-letters what Reliable subscriptions still hold after the drain timeout, drops the rest, ignores late results', async () => {
    const bus = createEventBus({ workers: 1 })
    await bus.start()
    const hang = deferred()
    await bus.subscribe(
      ModuleId.Storage,
      {},
      DeliveryMode.Reliable({ timeoutMs: 60_000 }),
      () => hang.promise,
    )
    await bus.subscribe(ModuleId.Orchestrator, {}, DeliveryMode.BestEffort, () => hang.promise)
    for (let i = 0; i < 3; i++) await bus.publish(rawMessage())
    await flushMicrotasks()
    const stopped = bus.shutdown({ drainTimeoutMs: 500 })
    await advance(499)
    expect(bus.state).toBe('shuttingDown')
    await advance(2) // the timeout, then one turn of the loop that reads what came by then
    await stopped
    const entries = bus.deadLetters.list()
    expect(entries.map((e) => e.reason)).toEqual(['Shutdown', 'Shutdown', 'Shutdown'])
    expect(entries.map((e) => e.attempts).sort()).toEqual([0, 0, 1])
    hang.resolve()
    await flushMicrotasks()
    const metrics = await bus.metrics()
    expect(metrics).toMatchObject({
      messagesDelivered: 0,
      messagesDeadLettered: 3,
      messagesDropped: 3,
      inFlight: 0,
    })
    expect(metrics.currentQueueDepth).toBe(0)
  })

  it('dead-letters copies waiting out a retry backoff at shutdown', async () => {
    const bus = createEventBus({ retry: { initialMs: 10_000, maxMs: 10_000 } })
    await bus.start()
    await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.Reliable({ timeoutMs: 1000 }), async () => {
      throw new Error('later')
    })
    await bus.publish(rawMessage())
    await flushMicrotasks()
    const stopped = bus.shutdown({ drainTimeoutMs: 100 })
    await advance(101)
    await stopped
    expect(bus.deadLetters.list()).toMatchObject([
      { reason: 'Shutdown', attempts: 1, lastError: 'Error: later' },
    ])
    await advance(20_000) // the cancelled retry never fires
    expect((await bus.metrics()).messagesFailed).toBe(1)
    await expectAccounted(bus)
  })

  it('is idempotent and rejects a second start', async () => {
    const bus = createEventBus()
    await bus.start()
    const first = bus.shutdown()
    expect(bus.shutdown()).toBe(first)
    await first
    await bus.shutdown()
    await expect(bus.start()).rejects.toMatchObject({ kind: 'BusShuttingDown' })
    await expect(bus.shutdown()).resolves.toBeUndefined()
  })

  it('refuses an invalid drain timeout, and options that are no object or cannot be read', async () => {
    const bus = createEventBus()
    const unreadable = Object.defineProperty({}, 'drainTimeoutMs', {
      get() {
        throw new Error('getter')
      },
    })
    // Past a day, a timer would overflow and fire at once: the drain would not wait at all.
    const tooLong = { drainTimeoutMs: 86_400_001 }
    for (const options of [
      { drainTimeoutMs: -5 },
      tooLong,
      { drainTimeoutMs: 2 ** 31 },
      'soon',
      null,
      unreadable,
    ]) {
      let result: Promise<void> | undefined
      expect(() => {
        result = bus.shutdown(options as never)
      }).not.toThrow()
      await expect(result).rejects.toMatchObject({ kind: 'Configuration' })
    }
    await expect(bus.shutdown(tooLong)).rejects.toThrow('drainTimeoutMs must be a number from 0 to 86400000')
    expect(bus.state).toBe('created')
    await bus.start()
    await expect(bus.shutdown({ drainTimeoutMs: 86_400_000 })).resolves.toBeUndefined()
  })
})

describe('registry', () => {
  it('registers modules, sets statuses and summarizes health', async () => {
    const bus = createEventBus()
    expect(bus.registry.summary().overall).toBe('Unknown')
    bus.registry.register(ModuleId.Storage, { version: '1.2.0' })
    expect(bus.registry.get(ModuleId.Storage)).toMatchObject({
      moduleId: 'storage',
      status: 'Starting',
      version: '1.2.0',
    })
    expect(bus.registry.summary().overall).toBe('Transitioning')
    bus.registry.setStatus(ModuleId.Storage, ModuleStatus.Healthy)
    expect(bus.registry.summary().overall).toBe('Healthy')
    bus.registry.setStatus(ModuleId.DataCapture, ModuleStatus.Degraded) // unknown: registered
    expect(bus.registry.list().map((m) => m.moduleId)).toEqual(['storage', 'data-capture'])
    expect(bus.registry.summary().overall).toBe('Degraded')
    bus.registry.setStatus(ModuleId.AiIntegration, ModuleStatus.Unhealthy)
    expect(bus.registry.summary()).toMatchObject({
      overall: 'Critical',
      counts: { Healthy: 1, Degraded: 1, Unhealthy: 1 },
    })
    bus.registry.setStatus(ModuleId.AiIntegration, ModuleStatus.Stopped)
    bus.registry.setStatus(ModuleId.DataCapture, ModuleStatus.Healthy)
    expect(bus.registry.summary().overall).toBe('Unknown') // not all Healthy, nothing worse
    bus.registry.setStatus(ModuleId.AiIntegration, ModuleStatus.ShuttingDown)
    expect(bus.registry.summary().overall).toBe('Transitioning')
    expect(bus.registry.get('nobody')).toBeUndefined()
    expect(() => bus.registry.setStatus(ModuleId.Storage, 'Sleepy' as never)).toThrow(/Configuration/)
    expect(() => bus.registry.register('Bad Id')).toThrow("'Bad Id' is not a valid module id (kebab-case:")
    expect(() => bus.registry.register(ModuleId.Storage, { version: 2 as never })).toThrow(
      'register: options.version: Invalid input: expected string, received number',
    )
    expect(() => bus.registry.register(ModuleId.Storage, { verison: '2' } as never)).toThrow(
      'register: options: Unrecognized key: "verison"',
    )
    expect(() => bus.registry.register(ModuleId.Storage, '2.0.0' as never)).toThrow(
      'register: options: Invalid input: expected object, received string',
    )
    expect(bus.registry.get(ModuleId.Storage)?.version).toBe('1.2.0')
  })

  it('takes a new version when a module registers again, and keeps the old one when none is given', () => {
    const bus = createEventBus()
    const registeredAt = bus.registry.register(ModuleId.Storage, { version: '1.2.0' }).registeredAt
    bus.registry.setStatus(ModuleId.Storage, ModuleStatus.Healthy)
    expect(bus.registry.register(ModuleId.Storage, { version: '1.3.0' })).toMatchObject({
      version: '1.3.0',
      status: 'Healthy',
      registeredAt,
    })
    bus.registry.register(ModuleId.Storage)
    expect(bus.registry.get(ModuleId.Storage)?.version).toBe('1.3.0')
  })

  it('answers every read with a copy: changing one changes nothing in the registry', () => {
    const bus = createEventBus()
    const forge = (read: object | undefined) =>
      Object.assign(read ?? {}, { status: 'Unhealthy', version: 'forged' })
    forge(bus.registry.register(ModuleId.Storage, { version: '1.0.0' }))
    forge(bus.registry.setStatus(ModuleId.Storage, ModuleStatus.Healthy))
    forge(bus.registry.get(ModuleId.Storage))
    forge(bus.registry.list()[0])
    expect(bus.registry.get(ModuleId.Storage)).toMatchObject({ status: 'Healthy', version: '1.0.0' })
    expect(bus.registry.summary().overall).toBe('Healthy')
  })

  it('keeps how a module’s process last ended, which no reader can change', () => {
    const bus = createEventBus()
    const at = new Date('2026-12-03T23:30:00Z')
    bus.registry.recordExit(ModuleId.Storage, { code: 1, error: 'Error: EISDIR', at })
    bus.registry.recordExit(ModuleId.Storage, { code: 0, at })
    const { lastExit } = bus.registry.get(ModuleId.Storage) ?? {}
    expect(lastExit).toEqual({ code: 0, at }) // the last one, with no error of an earlier exit
    Object.assign(lastExit ?? {}, { code: 7 })
    lastExit?.at.setTime(0)
    at.setTime(1) // the caller's own Date, changed after it was given
    expect(bus.registry.list()[0]?.lastExit).toEqual({ code: 0, at: new Date('2026-12-03T23:30:00Z') })
  })

  it('hands out and keeps Dates of its own: setTime on one, which no freeze stops, changes nothing here', () => {
    const bus = createEventBus()
    const at = new Date('2026-12-03T23:30:00Z')
    const registeredAt = bus.registry.register(ModuleId.Storage).registeredAt
    const registered = registeredAt.getTime()
    bus.registry.recordHealthCheck(ModuleId.Storage, at)
    bus.registry.recordError(ModuleId.Storage, { errorType: 'Io', message: 'disk full', at })
    bus.registry.recordExit(ModuleId.Storage, { code: 1, at })
    at.setTime(0)
    for (const read of [bus.registry.get(ModuleId.Storage), bus.registry.list()[0]]) {
      registeredAt.setTime(0)
      for (const date of [read?.registeredAt, read?.lastHealthCheck, read?.lastError?.at, read?.lastExit?.at])
        date?.setTime(0)
    }
    expect(bus.registry.get(ModuleId.Storage)).toMatchObject({
      registeredAt: new Date(registered),
      lastHealthCheck: new Date('2026-12-03T23:30:00Z'),
      lastError: { at: new Date('2026-12-03T23:30:00Z') },
      lastExit: { at: new Date('2026-12-03T23:30:00Z') },
    })
  })

  it('marks a module Healthy when it publishes ModuleReady and records its own health checks', async () => {
    const bus = createEventBus()
    await bus.start()
    await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)))
    expect(bus.registry.get(ModuleId.Storage)?.status).toBe('Healthy')
    const at = new Date('2026-11-30T10:00:00Z')
    // A check sent by the orchestrator about storage is a request, not storage's answer.
    await bus.publish(
      BusMessage.create(
        ModuleId.Orchestrator,
        MessagePayload.HealthCheck({ moduleId: 'storage', timestamp: at }),
      ),
    )
    expect(bus.registry.get(ModuleId.Storage)?.lastHealthCheck).toBeUndefined()
    await bus.publish(
      BusMessage.create(
        ModuleId.Storage,
        MessagePayload.HealthCheck({ ...validData.HealthCheck(), timestamp: at }),
      ),
    )
    expect(bus.registry.get(ModuleId.Storage)?.lastHealthCheck).toEqual(at)
    // A module that never registered is not registered by its own check either.
    await bus.publish(
      BusMessage.create(
        ModuleId.Gamification,
        MessagePayload.HealthCheck({ moduleId: ModuleId.Gamification, timestamp: at }),
      ),
    )
    expect(bus.registry.get(ModuleId.Gamification)).toBeUndefined()
    expect(bus.registry.list().map(({ moduleId }) => moduleId)).toEqual([ModuleId.Storage])
  })

  it('counts the errors a registered module reports about itself, and keeps the latest', async () => {
    const bus = createEventBus()
    await bus.start()
    const report = (source: string, module: string, errorType: string, at: Date) =>
      bus.publish(
        BusMessage.create(
          source,
          MessagePayload.Error({
            ...validData.Error(),
            module,
            errorType,
            message: `${errorType} here`,
            timestamp: at,
          }),
        ),
      )
    const [first, second] = [new Date('2026-12-04T10:00:00Z'), new Date('2026-12-04T10:00:05Z')]
    await report(ModuleId.Storage, ModuleId.Storage, 'EventLog', first) // not registered yet: not kept
    expect(bus.registry.get(ModuleId.Storage)).toBeUndefined()
    bus.registry.register(ModuleId.Storage)
    await report(ModuleId.Storage, ModuleId.Storage, 'EventLog', first)
    await report(ModuleId.Gamification, ModuleId.Storage, 'Hearsay', second) // about storage, not by it
    await report(ModuleId.Storage, ModuleId.Storage, 'PublishesSkipped', second)
    const entry = bus.registry.get(ModuleId.Storage)
    expect(entry).toMatchObject({
      errorsReported: 2,
      lastError: { errorType: 'PublishesSkipped', message: 'PublishesSkipped here', at: second },
    })
    Object.assign(entry?.lastError ?? {}, { errorType: 'Forged' }) // a read is a copy
    expect((await bus.metrics()).registry.modules[0]?.lastError?.errorType).toBe('PublishesSkipped')
  })
})
