import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createEventBus,
  DeliveryMode,
  type EventBus,
  type EventBusConfigInput,
  MessageFilter,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { DeadLetterFilter } from '../../src/shared/dead-letter.js'
import {
  advance,
  deferred,
  expectAccounted,
  flushMicrotasks,
  rawMessage,
  shutDownAfterEach,
  useFakeClock,
} from '../helpers.js'

const shutDown = shutDownAfterEach()

/** A bus whose Storage subscriber fails while `failing` is true; no retries, no waiting. */
async function failingBus(config: EventBusConfigInput = {}) {
  const bus = shutDown(createEventBus({ maxRetryAttempts: 0, ...config }))
  await bus.start()
  const state = { failing: true, delivered: [] as string[] }
  const subscriptionId = await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.Reliable({ timeoutMs: 1000 }),
    async (m) => {
      if (state.failing) throw new Error(`cannot store ${m.payload.data.eventType}`)
      state.delivered.push(m.payload.data.eventType)
    },
  )
  return { bus, state, subscriptionId }
}

async function publishEvents(bus: EventBus, ...names: string[]) {
  for (const name of names) await bus.publish(rawMessage(1, { eventType: name }))
  await flushMicrotasks()
}

describe('dead letters', () => {
  beforeEach(() => {
    useFakeClock()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('records each failed message with its subscription, module, reason, attempts and error', async () => {
    const { bus, subscriptionId } = await failingBus()
    await publishEvents(bus, 'a')
    const entries = bus.deadLetters.list()
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({
      id: expect.any(String),
      subscriptionId,
      module: 'storage',
      reason: 'MaxRetriesExceeded',
      attempts: 1,
      lastError: 'Error: cannot store a',
      firstFailedAt: expect.any(Date),
      lastFailedAt: expect.any(Date),
    })
    expect((await bus.metrics()).deadLetters).toEqual({ size: 1, capacity: 1000, evicted: 0, changes: 1 })
    // What a reader lists cannot change what the queue holds, nor can its Dates, which no freeze keeps.
    expect(Object.isFrozen(entries[0])).toBe(true)
    const failedAt = entries[0]?.firstFailedAt.getTime()
    entries[0]?.firstFailedAt.setTime(0)
    entries[0]?.lastFailedAt.setTime(0)
    expect(bus.deadLetters.list().map((entry) => [entry.firstFailedAt, entry.lastFailedAt])).toEqual([
      [new Date(failedAt ?? Number.NaN), new Date(failedAt ?? Number.NaN)],
    ])
  })

  it('purges an entry named twice once, and counts it once', async () => {
    const { bus } = await failingBus()
    await publishEvents(bus, 'a', 'b')
    const [first] = bus.deadLetters.list()
    await expect(bus.deadLetters.purge([first!.id, first!.id])).resolves.toBe(1)
    expect(bus.deadLetters.list()).toHaveLength(1)
  })

  it('filters the list by reason, module, subscription and type', async () => {
    const { bus, subscriptionId } = await failingBus()
    // Another module's subscription, failing too: each filter must tell the two apart.
    const other = await bus.subscribe(
      ModuleId.Gamification,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      () => {
        throw new Error('no points for that')
      },
    )
    await publishEvents(bus, 'a', 'b')
    expect(bus.deadLetters.list({ reason: 'MaxRetriesExceeded' })).toHaveLength(4)
    expect(bus.deadLetters.list({ reason: 'Shutdown' })).toHaveLength(0)
    const subscriptionsOf = (filter: DeadLetterFilter) =>
      bus.deadLetters.list(filter).map((entry) => entry.subscriptionId)
    expect(subscriptionsOf({ module: 'storage', subscriptionId, type: 'RawEvent' })).toEqual([
      subscriptionId,
      subscriptionId,
    ])
    expect(subscriptionsOf({ module: ModuleId.Gamification })).toEqual([other, other])
    expect(subscriptionsOf({ subscriptionId: other })).toEqual([other, other])
    expect(subscriptionsOf({ module: ModuleId.Gamification, subscriptionId })).toEqual([])
    expect(bus.deadLetters.list({ type: 'StateChange' })).toHaveLength(0)
    expect(() => bus.deadLetters.list({ colour: 'red' } as never)).toThrow(
      'InvalidFilter: dead-letter filter: Unrecognized key: "colour" (fields: reason, module, subscriptionId, type)',
    )
    expect(() => bus.deadLetters.list({ reason: 'Lost' } as never)).toThrow(
      'InvalidFilter: dead-letter filter.reason: Invalid option',
    )
  })

  it('refuses a filter on a type or module no dead letter can have, instead of selecting nothing', async () => {
    const { bus } = await failingBus()
    await publishEvents(bus, 'a', 'b')
    expect(() => bus.deadLetters.list({ type: 'RawEvnt' })).toThrow(
      "InvalidFilter: dead-letter filter.type: unknown message type 'RawEvnt'",
    )
    expect(() => bus.deadLetters.list({ module: 'Storage' })).toThrow(
      /^InvalidFilter: dead-letter filter\.module: /,
    )
    await expect(bus.deadLetters.replay({ type: 'RawEvnt' })).rejects.toMatchObject({ kind: 'InvalidFilter' })
    await expect(bus.deadLetters.purge({ module: 'Storage' })).rejects.toMatchObject({
      kind: 'InvalidFilter',
    })
    // Nothing was taken: both entries are still there for the filter meant.
    expect(bus.deadLetters.list({ type: 'RawEvent', module: 'storage' })).toHaveLength(2)
  })

  it('refuses ids that are not strings, taking none of them', async () => {
    const { bus } = await failingBus()
    await publishEvents(bus, 'a')
    const [entry] = bus.deadLetters.list()
    for (const ids of [[entry?.id, 7], [{ id: entry?.id }]]) {
      await expect(bus.deadLetters.replay(ids as never)).rejects.toThrow(
        'InvalidFilter: dead-letter ids must be strings',
      )
      await expect(bus.deadLetters.purge(ids as never)).rejects.toThrow(
        'InvalidFilter: dead-letter ids must be strings',
      )
    }
    expect(bus.deadLetters.list()).toEqual([entry])
  })

  it('replays entries to their original subscription and removes them once enqueued', async () => {
    const { bus, state } = await failingBus()
    await publishEvents(bus, 'a', 'b', 'c')
    state.failing = false
    const [first] = bus.deadLetters.list()
    const result = await bus.deadLetters.replay([first!.id])
    expect(result).toEqual({ replayed: [first!.id], failed: [] })
    await flushMicrotasks()
    expect(state.delivered).toEqual(['a'])
    expect(bus.deadLetters.list()).toHaveLength(2)
    expect((await bus.deadLetters.replay({ reason: 'MaxRetriesExceeded' })).replayed).toHaveLength(2)
    await flushMicrotasks()
    expect(state.delivered).toEqual(['a', 'b', 'c'])
    expect(bus.deadLetters.list()).toHaveLength(0)
    await expectAccounted(bus)
  })

  it('routes a replay afresh when the original subscription is gone', async () => {
    const { bus, subscriptionId } = await failingBus()
    await publishEvents(bus, 'a')
    await bus.unsubscribe(subscriptionId)
    const [entry] = bus.deadLetters.list()
    // Nobody matches: the entry stays, with the reason.
    expect(await bus.deadLetters.replay([entry!.id])).toEqual({
      replayed: [],
      failed: [{ id: entry!.id, error: expect.stringContaining('no subscription matches') }],
    })
    const got: string[] = []
    await bus.subscribe(
      ModuleId.AnalysisEngine,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      (m) => {
        got.push(m.payload.data.eventType)
      },
    )
    expect((await bus.deadLetters.replay(entry!.id)).replayed).toEqual([entry!.id])
    await flushMicrotasks()
    expect(got).toEqual(['a'])
  })

  it('keeps an entry no subscription has room for, and counts its replay as no refused publish', async () => {
    const bus = shutDown(createEventBus({ maxRetryAttempts: 0, maxQueueSize: 1, workers: 1 }))
    await bus.start()
    const gate = deferred()
    const raw = MessageFilter.types(['RawEvent'])
    let calls = 0
    const original = await bus.subscribe(ModuleId.Storage, raw, DeliveryMode.Reliable(), async () => {
      calls++
      if (calls === 1) throw new Error('down')
      await gate.promise
    })
    await publishEvents(bus, 'a')
    const [entry] = bus.deadLetters.list()
    await bus.subscribe(ModuleId.AnalysisEngine, raw, DeliveryMode.Reliable(), () => gate.promise)
    // Each subscription has 'b' in flight and 'c' queued: full.
    await publishEvents(bus, 'b', 'c')
    const refused = { replayed: [], failed: [{ id: entry!.id, error: expect.stringMatching(/^QueueFull/) }] }
    expect(await bus.deadLetters.replay([entry!.id])).toEqual(refused)
    // Routed afresh once its subscription is gone: the other one is full too.
    await bus.unsubscribe(original)
    expect(await bus.deadLetters.replay([entry!.id])).toEqual(refused)
    expect(bus.deadLetters.list().map((e) => e.id)).toContain(entry!.id)
    expect((await bus.metrics()).messagesQueueFull).toBe(0)
    gate.resolve()
  })

  it('reports each id it was asked to replay that names no entry, once, and replays the others', async () => {
    const { bus, state } = await failingBus()
    await publishEvents(bus, 'a', 'b')
    const [first, second] = bus.deadLetters.list()
    await expect(bus.deadLetters.purge([second!.id])).resolves.toBe(1)
    state.failing = false
    const gone = { error: 'no dead letter has this id (replayed, purged or evicted already?)' }
    // An id named twice is replayed once: the message is not enqueued again.
    expect(
      await bus.deadLetters.replay([second!.id, 'never-was', first!.id, 'never-was', first!.id]),
    ).toEqual({
      replayed: [first!.id],
      failed: [
        { id: second!.id, ...gone },
        { id: 'never-was', ...gone },
      ],
    })
    await flushMicrotasks()
    expect(state.delivered).toEqual(['a'])
    expect(await bus.deadLetters.replay(first!.id)).toEqual({
      replayed: [],
      failed: [{ id: first!.id, ...gone }],
    })
    // A filter that selects nothing is no failure: it names no entry.
    expect(await bus.deadLetters.replay({ reason: 'Shutdown' })).toEqual({ replayed: [], failed: [] })
  })

  it('purges selected entries or all of them', async () => {
    const { bus } = await failingBus()
    await publishEvents(bus, 'a', 'b', 'c')
    const [first] = bus.deadLetters.list()
    expect(await bus.deadLetters.purge([first!.id, 'no-such-id'])).toBe(1)
    expect(await bus.deadLetters.purge({ reason: 'Shutdown' })).toBe(0)
    expect(await bus.deadLetters.purge()).toBe(2)
    expect(bus.deadLetters.list()).toEqual([])
  })

  it('evicts the oldest entries beyond its capacity and counts them', async () => {
    const { bus } = await failingBus({ deadLetterQueueSize: 2 })
    await publishEvents(bus, 'a', 'b', 'c')
    expect(
      bus.deadLetters.list().map((e) => (e.message.payload.data as { eventType: string }).eventType),
    ).toEqual(['b', 'c'])
    // Three added, one pushed out.
    expect((await bus.metrics()).deadLetters).toEqual({ size: 2, capacity: 2, evicted: 1, changes: 4 })
  })

  it('counts each entry added and removed as a change, and nothing that leaves the list as it was', async () => {
    const { bus } = await failingBus()
    const changes = async () => (await bus.metrics()).deadLetters.changes
    await publishEvents(bus, 'a', 'b')
    expect(await changes()).toBe(2)
    bus.deadLetters.list()
    expect(await bus.deadLetters.purge(['no-such-id'])).toBe(0)
    expect(await bus.deadLetters.purge({ reason: 'Shutdown' })).toBe(0)
    expect(await changes()).toBe(2)
    const [first] = bus.deadLetters.list()
    expect(await bus.deadLetters.purge([first!.id, first!.id])).toBe(1)
    expect(await changes()).toBe(3)
  })

  it('dead-letters what a Reliable subscription still holds when it is unsubscribed', async () => {
    const bus = shutDown(createEventBus({ workers: 1 }))
    await bus.start()
    const id = await bus.subscribe(
      ModuleId.Storage,
      {},
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      () => new Promise(() => {}),
    )
    const dropper = await bus.subscribe(
      ModuleId.Orchestrator,
      {},
      DeliveryMode.BestEffort,
      () => new Promise(() => {}),
    )
    await publishEvents(bus, 'a', 'b', 'c')
    await bus.unsubscribe(id)
    await bus.unsubscribe(dropper)
    expect(bus.deadLetters.list().map((e) => e.reason)).toEqual(['Unsubscribed', 'Unsubscribed'])
    await advance(5000) // the in-flight attempts time out after their subscription ended
    const metrics = await bus.metrics()
    expect(metrics.messagesDeadLettered).toBe(3)
    expect(metrics.messagesDropped).toBe(3)
    await expect(bus.unsubscribe(id)).rejects.toMatchObject({
      kind: 'SubscriptionNotFound',
      subscriptionId: id,
    })
  })

  it('refuses replay before start and after shutdown', async () => {
    const bus = shutDown(createEventBus())
    await expect(bus.deadLetters.replay([])).rejects.toMatchObject({ kind: 'NotStarted' })
    await bus.start()
    await bus.shutdown()
    await expect(bus.deadLetters.replay([])).rejects.toMatchObject({ kind: 'BusShuttingDown' })
  })
})
