import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  type BusMessage,
  createEventBus,
  DeliveryMode,
  type FilterInput,
  BusMessage as Message,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { flushMicrotasks, rawMessage, shutDownAfterEach, useFakeClock, validData } from '../helpers.js'

const shutDown = shutDownAfterEach()

const fromStorage = () =>
  Message.create(ModuleId.Storage, MessagePayload.StorageStatus(validData.StorageStatus()))
const readyFrom = (source: string, priority: 0 | 1 | 2 | 3 = MessagePriority.Normal) =>
  Message.withPriority(source, MessagePayload.ModuleReady(source), priority)

/** Publishes a fixed mix and returns which of them `filter` let through. */
async function matchedBy(filter: FilterInput<string>): Promise<string[]> {
  const bus = shutDown(createEventBus())
  await bus.start()
  const got: string[] = []
  await bus.subscribe(ModuleId.Orchestrator, filter, DeliveryMode.BestEffort, (m) => {
    got.push(`${m.payload.type}@${m.source}/${m.priority}`)
  })
  await bus.publish(rawMessage(MessagePriority.Low))
  await bus.publish(rawMessage(MessagePriority.High))
  await bus.publish(fromStorage())
  await bus.publish(readyFrom('storage', MessagePriority.Critical))
  await flushMicrotasks()
  return got
}

describe('filters', () => {
  it('all() matches everything', async () => {
    expect(await matchedBy(MessageFilter.all())).toHaveLength(4)
    expect(await matchedBy({})).toHaveLength(4)
  })

  it('types([...]) matches those types only', async () => {
    expect(await matchedBy(MessageFilter.types(['RawEvent']))).toEqual([
      'RawEvent@data-capture/0',
      'RawEvent@data-capture/2',
    ])
    expect(await matchedBy({ types: ['StorageStatus', 'ModuleReady'] })).toEqual([
      'StorageStatus@storage/1',
      'ModuleReady@storage/3',
    ])
  })

  it('sources([...]) matches those sources only', async () => {
    expect(await matchedBy(MessageFilter.sources(['storage']))).toEqual([
      'StorageStatus@storage/1',
      'ModuleReady@storage/3',
    ])
  })

  it('requires every present condition (AND)', async () => {
    expect(await matchedBy(MessageFilter.typesAndSources(['RawEvent', 'ModuleReady'], ['storage']))).toEqual([
      'ModuleReady@storage/3',
    ])
    expect(await matchedBy(MessageFilter.types(['RawEvent']).withMinPriority(MessagePriority.High))).toEqual([
      'RawEvent@data-capture/2',
    ])
    expect(await matchedBy({ sources: ['data-capture'], minPriority: MessagePriority.Normal })).toEqual([
      'RawEvent@data-capture/2',
    ])
    expect(
      await matchedBy(
        MessageFilter.all()
          .withPredicate((m) => m.payload.type !== 'RawEvent')
          .withMinPriority(2),
      ),
    ).toEqual(['ModuleReady@storage/3'])
  })

  it('an empty list matches nothing', async () => {
    expect(await matchedBy(MessageFilter.types([]))).toEqual([])
    expect(await matchedBy({ sources: [] })).toEqual([])
  })

  it('a throwing predicate is no match, is counted, and never stops the bus', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const got: string[] = []
    await bus.subscribe(
      ModuleId.Orchestrator,
      MessageFilter.all().withPredicate(() => {
        throw new Error('bad predicate')
      }),
      DeliveryMode.BestEffort,
      () => {
        got.push('bad')
      },
    )
    await bus.subscribe(ModuleId.Storage, MessageFilter.all(), DeliveryMode.BestEffort, () => {
      got.push('good')
    })
    await expect(bus.publish(rawMessage())).resolves.toEqual(expect.any(String))
    await bus.publish(rawMessage())
    await flushMicrotasks()
    expect(got).toEqual(['good', 'good'])
    const metrics = await bus.metrics()
    expect(metrics.predicateErrors).toBe(2)
    expect(metrics.subscriptions.find((s) => s.module === 'orchestrator')?.predicateErrors).toBe(2)
  })

  it('only `true` from a predicate is a match: a truthy 1 or a promise is not, and is no error', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const got: string[] = []
    const answers: Record<string, unknown> = { yes: true, one: 1, promise: Promise.resolve(true), no: false }
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']).withPredicate((m) => answers[m.payload.data.eventType] as boolean),
      DeliveryMode.BestEffort,
      (m) => {
        got.push(m.payload.data.eventType)
      },
    )
    for (const eventType of Object.keys(answers)) await bus.publish(rawMessage(1, { eventType }))
    await flushMicrotasks()
    expect(got).toEqual(['yes'])
    expect((await bus.metrics()).predicateErrors).toBe(0)
  })

  it('a predicate that publishes routes both messages to the subscriptions each matches', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const got: string[] = []
    let inner: Promise<string> | undefined
    const outer = rawMessage()
    await bus.subscribe(ModuleId.Storage, MessageFilter.all(), DeliveryMode.BestEffort, (m) => {
      got.push(`storage:${m.payload.type}`)
    })
    // The predicate runs while `outer` is being routed (after storage matched it), and publishes a
    // ModuleReady from there.
    await bus.subscribe(
      ModuleId.Orchestrator,
      MessageFilter.all().withPredicate((m) => {
        if (m.payload.type !== 'RawEvent') return false
        inner ??= bus.publish(Message.create(ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)))
        return true
      }),
      DeliveryMode.BestEffort,
      (m) => {
        got.push(`orchestrator:${m.payload.type}`)
      },
    )
    await bus.publish(outer)
    await inner
    await flushMicrotasks()
    expect(got.sort()).toEqual(['orchestrator:RawEvent', 'storage:ModuleReady', 'storage:RawEvent'])
  })

  it('filters are immutable builders that round-trip their plain form', () => {
    const base = MessageFilter.types(['RawEvent'])
    const narrowed = base.withMinPriority(MessagePriority.High)
    expect(base.minPriority).toBeUndefined()
    expect(narrowed.toPlain()).toEqual({ types: ['RawEvent'], minPriority: 2 })
    expect(MessageFilter.fromPlain(narrowed.toPlain()).toPlain()).toEqual(narrowed.toPlain())
    expect(Object.isFrozen(narrowed)).toBe(true)
  })

  it('hold their lists frozen, from every builder, so that a filter and those derived from it stay as built', () => {
    const filters = [
      MessageFilter.types(['RawEvent']),
      MessageFilter.sources(['data-capture']),
      MessageFilter.typesAndSources(['RawEvent'], ['data-capture']),
      MessageFilter.fromPlain({ types: ['RawEvent'], sources: ['data-capture'] }),
    ]
    for (const filter of filters) {
      for (const list of [filter.types, filter.sources]) {
        if (list !== undefined) expect(() => (list as string[]).push('StateChange')).toThrow(TypeError)
      }
    }
    const derived = filters[2]?.withMinPriority(MessagePriority.High).withPredicate(() => true)
    expect(derived?.toPlain()).toEqual({ types: ['RawEvent'], sources: ['data-capture'], minPriority: 2 })
    // The plain form is the caller's own, as before: not frozen.
    expect(Object.isFrozen(derived?.toPlain().types)).toBe(false)
  })

  it('keep their own copies of the lists they are given and give, and the lowest minimum priority', () => {
    const types = ['RawEvent']
    const sources = ['data-capture']
    const filter = MessageFilter.typesAndSources(types, sources)
    types.push('StateChange')
    sources.push('storage')
    const plain = filter.toPlain()
    expect(plain).toEqual({ types: ['RawEvent'], sources: ['data-capture'] })
    ;(plain.types as string[]).push('StateChange')
    expect(filter.types).toEqual(['RawEvent'])
    // fromPlain too: a plain form changed after it was built from changes nothing.
    const given = { types: ['RawEvent'], sources: ['data-capture'] }
    const fromPlain = MessageFilter.fromPlain(given)
    given.types.push('StateChange')
    given.sources.push('storage')
    expect(fromPlain.toPlain()).toEqual({ types: ['RawEvent'], sources: ['data-capture'] })
    expect(MessageFilter.all().withMinPriority(MessagePriority.Low).toPlain()).toEqual({ minPriority: 0 })
  })

  it('are summed up in metrics with every condition they hold', async () => {
    const bus = shutDown(createEventBus())
    const filter = MessageFilter.typesAndSources(['RawEvent'], ['data-capture'])
      .withMinPriority(MessagePriority.Low)
      .withPredicate(() => true)
    await bus.subscribe(ModuleId.Storage, filter, DeliveryMode.BestEffort, () => {})
    await bus.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {})
    expect((await bus.metrics()).subscriptions.map((subscription) => subscription.filter)).toEqual([
      'types=[RawEvent] sources=[data-capture] minPriority>=0 predicate',
      'types=* sources=*',
    ])
    await bus.shutdown()
  })

  it.each([
    [{ types: ['NoSuchType'] }, "unknown message type 'NoSuchType'"],
    [{ types: 'RawEvent' }, 'types'],
    [{ sources: ['Bad Id'] }, 'sources'],
    [{ minPriority: 7 }, 'minPriority'],
    [{ typo: true }, 'typo'],
    [null, 'plain object'],
    [{ types: Array(1025).fill('RawEvent') }, 'types: Too big: expected array to have <=1024 items'],
    [{ sources: Array(1025).fill('storage') }, 'sources: Too big: expected array to have <=1024 items'],
    // A type name is 1 to 128 characters, said so before the catalog is asked.
    [{ types: [''] }, 'types.0: Too small: expected string to have >=1 characters'],
    [{ types: ['T'.repeat(129)] }, 'types.0: Too big: expected string to have <=128 characters'],
    [MessageFilter.types(['RawEvent']).withPredicate('yes' as never), 'the predicate is not a function'],
  ])('refuses the filter %j with InvalidFilter', async (filter, detail) => {
    const bus = shutDown(createEventBus())
    const error = await bus
      .subscribe(ModuleId.Storage, filter as never, DeliveryMode.BestEffort, () => {})
      .catch((e) => e)
    expect(error).toMatchObject({ kind: 'InvalidFilter' })
    expect(error.message).toContain(detail)
  })

  it('refuses a string where a list belongs, naming the list, whichever way the filter is built', async () => {
    const bus = shutDown(createEventBus())
    const filters: [FilterInput, string][] = [
      [MessageFilter.types('RawEvent' as never), 'types'],
      [MessageFilter.sources('data-capture' as never), 'sources'],
      [MessageFilter.typesAndSources(['RawEvent'], 'data-capture' as never), 'sources'],
      [MessageFilter.fromPlain({ types: 'RawEvent' as never }), 'types'],
      [{ sources: 'data-capture' as never }, 'sources'],
    ]
    for (const [filter, list] of filters) {
      // Not "unknown message type 'R'": the string is not taken apart into characters.
      await expect(bus.subscribe('storage', filter, DeliveryMode.BestEffort, () => {})).rejects.toMatchObject(
        {
          kind: 'InvalidFilter',
          reason: `${list}: Invalid input: expected array, received string`,
        },
      )
    }
  })

  it('refuses a bad module id, delivery mode or handler', async () => {
    const bus = shutDown(createEventBus())
    await expect(bus.subscribe('Not Valid', {}, DeliveryMode.BestEffort, () => {})).rejects.toMatchObject({
      kind: 'Configuration',
      message: expect.stringContaining(
        "subscribe: 'Not Valid' is not a valid module id (kebab-case: /^[a-z][a-z0-9-]{0,63}$/)",
      ),
    })
    const forms =
      "the delivery mode must be { kind: 'BestEffort' }, { kind: 'Reliable', timeoutMs? } or { kind: 'LatestOnly' }"
    await expect(
      bus.subscribe('storage', {}, { kind: 'Sometimes' } as never, () => {}),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: `subscribe: ${forms} (got {"kind":"Sometimes"})`,
    })
    // A mode whose kind is right names its wrong field first.
    await expect(
      bus.subscribe('storage', {}, DeliveryMode.Reliable({ timeoutMs: -1 }), () => {}),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: `subscribe: mode.timeoutMs: Too small: expected number to be >0; ${forms} (got {"kind":"Reliable","timeoutMs":-1})`,
    })
    // No endless attempt: the bus's own bound would apply, but a JSON text port would carry null.
    await expect(
      bus.subscribe('storage', {}, DeliveryMode.Reliable({ timeoutMs: Infinity }), () => {}),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: expect.stringMatching(
        /^subscribe: mode\.timeoutMs: Invalid input: expected number, received Infinity; /,
      ),
    })
    await expect(
      bus.subscribe('storage', {}, { kind: 'BestEffort', timeoutMs: 500 } as never, () => {}),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: expect.stringMatching(
        /^subscribe: mode: Unrecognized key: "timeoutMs"; the delivery mode must be/,
      ),
    })
    // A mode that is no object at all: the forms say it, with no field to name.
    await expect(bus.subscribe('storage', {}, 'Reliable' as never, () => {})).rejects.toMatchObject({
      kind: 'Configuration',
      reason: `subscribe: ${forms} (got "Reliable")`,
    })
    await expect(
      bus.subscribe('storage', {}, DeliveryMode.BestEffort, 'nope' as never),
    ).rejects.toMatchObject({
      kind: 'Configuration',
    })
    // A mode that throws as it is read is refused as a mode, not thrown as found.
    const unreadable = Object.defineProperty({}, 'kind', {
      enumerable: true,
      get() {
        throw new RangeError('no kind today')
      },
    })
    await expect(bus.subscribe('storage', {}, unreadable as never, () => {})).rejects.toMatchObject({
      kind: 'Configuration',
      reason: expect.stringMatching(
        /^subscribe: the mode could not be read: RangeError: no kind today; the delivery mode must be .* \(got /,
      ),
    })
    expect((await bus.metrics()).subscriptions).toEqual([])
  })

  it('keeps the delivery mode it was given: changing the caller’s object later changes nothing', async () => {
    useFakeClock()
    try {
      const bus = shutDown(createEventBus({ maxRetryAttempts: 0 }))
      await bus.start()
      const mode: { kind: string; timeoutMs: number } = { kind: 'Reliable', timeoutMs: 50 }
      await bus.subscribe(ModuleId.Storage, {}, mode as DeliveryMode, () => new Promise(() => {}))
      mode.kind = 'BestEffort'
      mode.timeoutMs = 60_000
      await bus.publish(rawMessage())
      await vi.advanceTimersByTimeAsync(60)
      expect(bus.deadLetters.list().map(({ reason }) => reason)).toEqual(['DeliveryTimeout'])
      expect((await bus.metrics()).subscriptions.map(({ mode }) => mode)).toEqual(['Reliable'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('builds the plain modes BUS-API names, with no key left holding undefined', () => {
    expect(DeliveryMode.Reliable()).toStrictEqual({ kind: 'Reliable' })
    expect(DeliveryMode.Reliable({})).toStrictEqual({ kind: 'Reliable' })
    expect(DeliveryMode.Reliable({ timeoutMs: 250 })).toStrictEqual({ kind: 'Reliable', timeoutMs: 250 })
    expect(DeliveryMode.BestEffort).toStrictEqual({ kind: 'BestEffort' })
    expect(DeliveryMode.LatestOnly).toStrictEqual({ kind: 'LatestOnly' })
    // The shared ones cannot be changed under every subscription that was given them.
    expect(Object.isFrozen(DeliveryMode.BestEffort) && Object.isFrozen(DeliveryMode.LatestOnly)).toBe(true)
  })

  it('types handlers with exactly the filtered payloads', () => {
    const bus = shutDown(createEventBus())
    void bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent', 'StateChange']),
      DeliveryMode.BestEffort,
      (m) => {
        expectTypeOf(m).toEqualTypeOf<BusMessage<'RawEvent' | 'StateChange'>>()
        if (m.payload.type === 'RawEvent') expectTypeOf(m.payload.data.eventType).toBeString()
      },
    )
    void bus.subscribe(ModuleId.Storage, { types: ['StorageStatus'] }, DeliveryMode.BestEffort, (m) => {
      expectTypeOf(m.payload.data.totalEvents).toBeNumber()
    })
    void bus.subscribe(ModuleId.Storage, MessageFilter.all(), DeliveryMode.BestEffort, (m) => {
      expectTypeOf(m).toEqualTypeOf<BusMessage>()
    })
  })
})
