import fc from 'fast-check'
import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import { z } from 'zod'
import * as busModule from '../../src/main/bus/index.js'
import {
  BusMessage,
  builtinCatalog,
  createEventBus,
  type DataOf,
  EventBusError,
  isEventBusError,
  isJsonValue,
  MessagePayload,
  MessagePriority,
  MessageType,
  ModuleId,
  messageType,
} from '../../src/main/bus/index.js'
import { moduleIdPattern, moduleIdSchema } from '../../src/shared/catalog.js'
import { rawEvent, shutDownAfterEach, validData } from '../helpers.js'

const shutDown = shutDownAfterEach()

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('identities and types', () => {
  it('has the well-known module ids in kebab-case', () => {
    expect(ModuleId).toEqual({
      DataCapture: 'data-capture',
      Storage: 'storage',
      AnalysisEngine: 'analysis-engine',
      Gamification: 'gamification',
      AiIntegration: 'ai-integration',
      CuteFigurine: 'cute-figurine',
      Orchestrator: 'orchestrator',
      EventBus: 'event-bus',
    })
  })

  it('has the 14 message types, keys equal to values', () => {
    expect(Object.keys(MessageType)).toHaveLength(14)
    for (const [key, value] of Object.entries(MessageType)) expect(key).toBe(value)
    expect(Object.keys(builtinCatalog).sort()).toEqual(Object.keys(MessageType).sort())
  })

  it('hands out every table it exports frozen (ids, priorities, types, statuses, reasons, factories)', () => {
    // Each is one object every bus and endpoint of the process shares: a write to it would change them all.
    const tables = Object.entries(busModule).filter(
      ([, value]) =>
        typeof value === 'object' &&
        value !== null &&
        !(value instanceof z.ZodType) &&
        !(value instanceof RegExp),
    )
    expect(tables.map(([name]) => name)).toEqual(expect.arrayContaining(['ModuleId', 'DeadLetterReason']))
    for (const [name, table] of tables)
      expect({ name, frozen: Object.isFrozen(table) }).toEqual({ name, frozen: true })
  })

  it('orders priorities as numbers', () => {
    expect(MessagePriority).toEqual({ Low: 0, Normal: 1, High: 2, Critical: 3 })
  })
})

describe('payload constructors and message factories', () => {
  it('builds { type, data } for every type', () => {
    for (const type of Object.values(MessageType)) {
      const data = validData[type]()
      const payload = (MessagePayload[type] as (d: unknown) => { type: string; data: unknown })(data)
      expect(payload).toEqual({ type, data })
      expect(Object.isFrozen(payload)).toBe(true)
    }
    // One table for every caller in the process: none can swap a constructor under the others.
    expect(Object.isFrozen(MessagePayload) && Object.isFrozen(BusMessage)).toBe(true)
  })

  it('creates frozen messages with a UUID v4 id, a timestamp and Normal priority', () => {
    const before = Date.now()
    const message = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    expect(message.id).toMatch(UUID_V4)
    expect(message.timestamp.getTime()).toBeGreaterThanOrEqual(before)
    expect(message.source).toBe('data-capture')
    expect(message.priority).toBe(MessagePriority.Normal)
    expect(message.correlationId).toBeUndefined()
    expect(Object.isFrozen(message)).toBe(true)
    expect(messageType(message)).toBe('RawEvent')
    expect(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())).id).not.toBe(
      message.id,
    )
  })

  it('sets the priority with withPriority', () => {
    const message = BusMessage.withPriority(
      ModuleId.Storage,
      MessagePayload.ModuleReady('storage'),
      MessagePriority.High,
    )
    expect(message.priority).toBe(MessagePriority.High)
  })

  it('replyTo correlates with the original and keeps its priority', () => {
    const original = BusMessage.withPriority(
      ModuleId.Gamification,
      MessagePayload.InterventionRequest(validData.InterventionRequest()),
      MessagePriority.Critical,
    )
    const reply = BusMessage.replyTo(
      original,
      ModuleId.AiIntegration,
      MessagePayload.InterventionResponse(validData.InterventionResponse()),
    )
    expect(reply.correlationId).toBe(original.id)
    expect(reply.priority).toBe(MessagePriority.Critical)
    expect(reply.source).toBe('ai-integration')
  })

  it('types the data of each payload constructor', () => {
    expectTypeOf(MessagePayload.RawEvent).parameter(0).toEqualTypeOf<DataOf<'RawEvent'>>()
    expectTypeOf(MessagePayload.ModuleReady(ModuleId.Storage).data).toEqualTypeOf<DataOf<'ModuleReady'>>()
  })
})

describe('schemas', () => {
  it('accepts a valid payload of every type', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    for (const type of Object.values(MessageType)) {
      const payload = { type, data: validData[type]() } as ReturnType<typeof MessagePayload.RawEvent>
      await expect(bus.publish(BusMessage.create(ModuleId.Orchestrator, payload))).resolves.toEqual(
        expect.any(String),
      )
    }
  })

  it('accepts a payload without its optional fields', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const { windowTitle: _, ...untitled } = rawEvent()
    const { targetModule: __, ...forEveryModule } = validData.ConfigUpdate()
    const { transitionFrom: ___, ...fromNowhere } = { ...validData.StateChange(), transitionFrom: 'idle' }
    for (const payload of [
      MessagePayload.RawEvent(untitled),
      MessagePayload.ConfigUpdate(forEveryModule),
      MessagePayload.StateChange(fromNowhere),
    ]) {
      await expect(bus.publish(BusMessage.create(ModuleId.Orchestrator, payload))).resolves.toEqual(
        expect.any(String),
      )
    }
  })

  const invalid: [string, { type: string; data: unknown }, string][] = [
    [
      'a string timestamp',
      { type: 'RawEvent', data: { ...rawEvent(), timestamp: '2026-01-01' } },
      'payload.data.timestamp',
    ],
    [
      'a non-JSON data field',
      { type: 'RawEvent', data: { ...rawEvent(), data: { f: () => 1 } } },
      'payload.data.data',
    ],
    [
      'NaN in JSON data',
      { type: 'RawEvent', data: { ...rawEvent(), data: Number.NaN } },
      'payload.data.data',
    ],
    [
      'a non-UUID session id',
      { type: 'EventBatch', data: { ...validData.EventBatch(), sessionId: 'abc' } },
      'payload.data.sessionId',
    ],
    [
      'confidence above 1',
      { type: 'StateChange', data: { ...validData.StateChange(), confidence: 1.5 } },
      'payload.data.confidence',
    ],
    [
      'confidence below 0',
      { type: 'StateChange', data: { ...validData.StateChange(), confidence: -0.1 } },
      'payload.data.confidence',
    ],
    [
      'a health check for no module',
      { type: 'HealthCheck', data: { ...validData.HealthCheck(), moduleId: 'Storage Module' } },
      'payload.data.moduleId',
    ],
    [
      'a configuration update for no module',
      { type: 'ConfigUpdate', data: { ...validData.ConfigUpdate(), targetModule: 'Data Capture' } },
      'payload.data.targetModule',
    ],
    [
      'negative points',
      { type: 'RewardEvent', data: { ...validData.RewardEvent(), points: -1 } },
      'payload.data.points',
    ],
    [
      'fractional duration',
      { type: 'AnimationCommand', data: { ...validData.AnimationCommand(), durationMs: 1.5 } },
      'payload.data.durationMs',
    ],
    ['a bad module id', { type: 'ModuleReady', data: 'Not A Module' }, 'payload.data'],
    [
      'a missing field',
      { type: 'Shutdown', data: { moduleId: 'storage', timeoutMs: 10 } },
      'payload.data.saveState',
    ],
  ]
  it.each(invalid)('refuses %s with MessageRejected naming the field', async (_name, payload, path) => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const error = await bus
      .publish(BusMessage.create(ModuleId.Orchestrator, payload as never))
      .catch((e) => e)
    expect(isEventBusError(error, 'MessageRejected')).toBe(true)
    expect(
      (error as EventBusError & { kind: 'MessageRejected' }).issues.map((i) => i.path.join('.')),
    ).toContain(path)
    expect(error.message).toContain(path)
  })

  it('names where an app schema refused a symbol key’s value, leaving out the symbol, which cannot travel', async () => {
    const bus = shutDown(createEventBus({ catalog: { 'app.Counts': z.record(z.symbol(), z.number()) } }))
    await bus.start()
    const error = await bus
      .publish(BusMessage.create('x', { type: 'app.Counts', data: { [Symbol('k')]: 'many' } }) as never)
      .catch((e) => e)
    expect(isEventBusError(error, 'MessageRejected')).toBe(true)
    expect(error.issues).toEqual([
      {
        path: ['payload', 'data'],
        message: 'Invalid input: expected number, received string',
        code: 'invalid_type',
      },
    ])
    expect(error.message).toBe(
      'MessageRejected: app.Counts does not match its schema (payload.data: Invalid input: expected number, received string)',
    )
  })

  it('refuses an unknown type and a malformed envelope', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const unknown = await bus
      .publish(BusMessage.create('x', { type: 'Nope', data: 1 } as never))
      .catch((e) => e)
    expect(unknown).toBeInstanceOf(EventBusError)
    expect(unknown.kind).toBe('MessageRejected')
    expect(unknown.reason).toContain("unknown message type 'Nope'")
    const badSource = await bus
      .publish(BusMessage.create('Bad Source', MessagePayload.ModuleReady('storage')) as never)
      .catch((e) => e)
    expect(badSource.kind).toBe('MessageRejected')
    expect(badSource.issues[0].path).toEqual(['source'])
    await expect(bus.publish(null as never)).rejects.toMatchObject({ kind: 'MessageRejected' })
    await expect(bus.publish({ id: 'x' } as never)).rejects.toMatchObject({ kind: 'MessageRejected' })
  })

  it('takes any message id of 1 to 128 characters, and refuses an empty, longer or missing one', async () => {
    // The factories make UUIDs; an id made elsewhere (a replayed log's, another broker's) is kept
    // as it came. The README says why the UUID form is not checked.
    const bus = shutDown(createEventBus())
    await bus.start()
    const ready = BusMessage.create('x', MessagePayload.ModuleReady('x'))
    for (const id of ['order-42', 'a'.repeat(128)])
      await expect(bus.publish({ ...ready, id })).resolves.toBe(id)
    for (const id of ['', 'a'.repeat(129), undefined, 42]) {
      const refused = await bus.publish({ ...ready, id } as never).catch((e) => e)
      expect(refused).toMatchObject({
        kind: 'MessageRejected',
        reason: 'ModuleReady does not match its schema',
      })
      expect(refused.issues.map((issue: { path: unknown }) => issue.path)).toEqual([['id']])
    }
    await bus.shutdown()
  })

  it('takes a correlation id of 1 to 128 characters, and refuses an empty or longer one', async () => {
    const bus = shutDown(createEventBus())
    await bus.start()
    const ready = BusMessage.create('x', MessagePayload.ModuleReady('x'))
    for (const correlationId of ['c', 'a'.repeat(128)])
      await expect(bus.publish({ ...ready, correlationId })).resolves.toBe(ready.id)
    for (const correlationId of ['', 'a'.repeat(129), 42]) {
      const refused = await bus.publish({ ...ready, correlationId } as never).catch((e) => e)
      expect(refused).toMatchObject({ kind: 'MessageRejected' })
      expect(refused.issues.map((issue: { path: unknown }) => issue.path)).toEqual([['correlationId']])
    }
    await bus.shutdown()
  })

  it('refuses an empty or missing module id as the first one a process checks', async () => {
    // The remembered id starts as a valid one: nothing judged before must make '' pass.
    vi.resetModules()
    const fresh = await import('../../src/shared/catalog.js')
    expect(fresh.moduleIdSchema.safeParse('').success).toBe(false)
    expect(fresh.isModuleId(undefined)).toBe(false)
    expect(fresh.isModuleId('storage')).toBe(true)
  })

  it('judges every module id by its pattern, whatever ids it judged before', () => {
    // The schema remembers the last valid id: a run of ids, valid ones among them, must not let
    // an invalid one through (or refuse a valid one).
    const ids = fc.oneof(
      fc.stringMatching(moduleIdPattern),
      fc.string({ maxLength: 70 }),
      fc.constantFrom(...Object.values(ModuleId), 'Storage', 'storage ', '', 'a'.repeat(65)),
    )
    fc.assert(
      fc.property(fc.array(ids, { maxLength: 30, size: 'max' }), (run) => {
        for (const id of run) expect(moduleIdSchema.safeParse(id).success).toBe(moduleIdPattern.test(id))
      }),
    )
  })

  it('refuses a value no other process could receive, even where its schema takes anything', async () => {
    const bus = shutDown(
      createEventBus({
        catalog: { 'app.Job': z.object({ name: z.string(), context: z.unknown() }) },
      }),
    )
    await bus.start()
    const job = (context: unknown) =>
      BusMessage.create(ModuleId.Orchestrator, { type: 'app.Job', data: { name: 'sync', context } } as never)
    const error = await bus.publish(job({ retry: { onFail: () => 1 } })).catch((e) => e)
    expect(error).toMatchObject({
      kind: 'MessageRejected',
      reason: 'payload.data.context.retry.onFail is a function, which cannot travel to another process',
      issues: [{ path: ['payload', 'data', 'context', 'retry', 'onFail'], code: 'custom' }],
    })
    await expect(bus.publish(job({ retry: { attempts: 3 } }))).resolves.toEqual(expect.any(String))
  })

  it('refuses messages over maxMessageBytes and values nested too deeply', async () => {
    const bus = shutDown(createEventBus({ maxMessageBytes: 4096 }))
    await bus.start()
    const big = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.RawEvent(rawEvent({ data: 'x'.repeat(5000) })),
    )
    await expect(bus.publish(big)).rejects.toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/over maxMessageBytes \(4096\)/),
    })
    // Between the bounds: measured exactly. 1200 two-byte characters are 2400 bytes: under the limit.
    const near = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.RawEvent(rawEvent({ data: 'é'.repeat(1200) })),
    )
    await expect(bus.publish(near)).resolves.toBe(near.id)
    let deep: unknown = 1
    for (let i = 0; i < 200; i++) deep = [deep]
    const nested = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.RawEvent(rawEvent({ data: deep as never })),
    )
    await expect(bus.publish(nested)).rejects.toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/nested deeper/),
    })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const withCycle = BusMessage.create(
      ModuleId.DataCapture,
      MessagePayload.RawEvent(rawEvent({ data: cyclic as never })),
    )
    await expect(bus.publish(withCycle)).rejects.toMatchObject({ kind: 'MessageRejected' })
  })

  it('checks JSON values', () => {
    expect(isJsonValue({ a: [1, 'b', null, true, { c: 2.5 }] })).toBe(true)
    expect(isJsonValue(new Date())).toBe(false)
    expect(isJsonValue({ a: undefined })).toBe(false)
    expect(isJsonValue(Number.POSITIVE_INFINITY)).toBe(false)
    expect(isJsonValue(Object.create(null))).toBe(true)
  })

  it('accepts any JSON value, and refuses it with anything else at any depth', () => {
    // Trees of [value, whether it is JSON]: a leaf that is not JSON anywhere makes the whole not.
    type Judged = [unknown, boolean]
    const notJson = fc.constantFrom<unknown>(
      undefined,
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      new Date(0),
      new Map(),
      () => 1,
      Symbol('s'),
      1n,
      new (class Thing {})(),
    )
    const { tree } = fc.letrec<{ tree: Judged; leaf: Judged; array: Judged; object: Judged }>((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('array'), tie('object')),
      leaf: fc.oneof(
        fc
          .oneof(
            fc.string(),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.boolean(),
            fc.constant(null),
          )
          .map((value): Judged => [value, true]),
        notJson.map((value): Judged => [value, false]),
      ),
      array: fc
        .array(tie('tree'), { maxLength: 4 })
        .map((items): Judged => [items.map(([value]) => value), items.every(([, json]) => json)]),
      object: fc
        .dictionary(fc.string({ maxLength: 4 }), tie('tree'), { maxKeys: 4 })
        .map(
          (members): Judged => [
            Object.fromEntries(Object.entries(members).map(([key, [value]]) => [key, value])),
            Object.values(members).every(([, json]) => json),
          ],
        ),
    }))
    fc.assert(
      fc.property(tree, ([value, json]) => {
        expect(isJsonValue(value)).toBe(json)
      }),
    )
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(isJsonValue(value)).toBe(true)
      }),
    )
  })
})
