/**
 * "Typed end to end": what the compiler refuses, checked by the compiler. Each `@ts-expect-error`
 * below fails `npm run typecheck` if its line compiles; each `expectTypeOf` fails it if the type
 * differs. Where the call also runs, the test checks the bus refuses it at run time as well, as
 * code that casts its way past the types or builds filters from data would meet it. The window
 * API's part is in window-api-types.ts: that object exists only in a page.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  type BusMessage,
  builtinCatalog,
  createEventBus,
  DeliveryMode,
  type EventBusError,
  isEventBusError,
  BusMessage as Message,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { WindowSpec } from '../../src/main/host/windows.js'
import { checkAttachOptions } from '../../src/main/hub/permissions.js'
import { defineModule } from '../../src/modules/define.js'
import { connectBus } from '../../src/shared/index.js'
import type { Permissions } from '../../src/shared/wire.js'
import { afterThisTest, connectClient, startHub } from '../hub/fixture.js'

const mode = DeliveryMode.BestEffort
const ignore = () => {}

describe('the bus refuses, when it compiles and when it runs, a filter on types its catalog lacks', () => {
  it('built with MessageFilter.types, misspelt', async () => {
    const bus = createEventBus()
    // @ts-expect-error 'RawEvnt' is not in the catalog ("Did you mean 'RawEvent'?")
    const subscribed = bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvnt']), mode, ignore)
    await expect(subscribed).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('as a plain filter, misspelt', async () => {
    const bus = createEventBus()
    // @ts-expect-error 'RawEvnt' is not in the catalog
    const subscribed = bus.subscribe(ModuleId.Storage, { types: ['RawEvnt'] }, mode, ignore)
    await expect(subscribed).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('one wrong type among right ones, with sources', async () => {
    const bus = createEventBus()
    const filter = MessageFilter.typesAndSources(['RawEvent', 'Oops'], [ModuleId.DataCapture])
    // @ts-expect-error 'Oops' is not in the catalog
    const subscribed = bus.subscribe(ModuleId.Storage, filter, mode, ignore)
    await expect(subscribed).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('a type of another bus’s catalog', async () => {
    const bus = createEventBus()
    // @ts-expect-error 'Ping' is in no catalog of this bus
    const subscribed = bus.subscribe(ModuleId.Storage, { types: ['Ping'] }, mode, ignore)
    await expect(subscribed).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })
})

describe('the bus types what it accepts', () => {
  it('narrows a handler to the filter’s types, built or plain', async () => {
    const bus = createEventBus()
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent', 'StateChange']), mode, (m) => {
      expectTypeOf(m).toEqualTypeOf<BusMessage<'RawEvent' | 'StateChange'>>()
    })
    await bus.subscribe(ModuleId.Storage, { types: ['StorageStatus'] }, mode, (m) => {
      expectTypeOf(m.payload.data.totalEvents).toBeNumber()
      // @ts-expect-error a StorageStatus has no eventType
      void m.payload.data.eventType
    })
  })

  it('gives a filter that names no types, or names them only at run time, every type', async () => {
    const bus = createEventBus()
    const everyType = (m: BusMessage) => expectTypeOf(m).toEqualTypeOf<BusMessage>()
    await bus.subscribe(ModuleId.Storage, MessageFilter.all(), mode, everyType)
    await bus.subscribe(ModuleId.Storage, MessageFilter.sources([ModuleId.DataCapture]), mode, everyType)
    await bus.subscribe(ModuleId.Storage, { minPriority: 2 }, mode, everyType)
    const fromSettings: string[] = ['RawEvent']
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(fromSettings), mode, everyType)
    await bus.subscribe(ModuleId.Storage, { types: fromSettings }, mode, everyType)
    // Checked when it runs instead: a list from data may still name a type the catalog lacks.
    await expect(
      bus.subscribe(ModuleId.Storage, { types: [...fromSettings, 'RawEvnt'] }, mode, everyType),
    ).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('types an application’s own catalog entries, and refuses those it lacks', async () => {
    const bus = createEventBus({ catalog: { Ping: z.object({ sequence: z.number().int() }) } })
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['Ping']), mode, (m) => {
      expectTypeOf(m.payload.data.sequence).toBeNumber()
    })
    // @ts-expect-error 'Pong' is not in this bus's catalog
    const subscribed = bus.subscribe(ModuleId.Storage, MessageFilter.types(['Pong']), mode, ignore)
    await expect(subscribed).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('refuses a payload of the wrong shape', () => {
    // @ts-expect-error eventType is a string
    const payload = MessagePayload.RawEvent({ eventType: 1, data: null, timestamp: new Date() })
    expectTypeOf(
      Message.create(ModuleId.DataCapture, MessagePayload.ModuleReady(ModuleId.Storage)),
    ).toEqualTypeOf<BusMessage<'ModuleReady'>>()
    void payload
  })

  it('narrows an error by its kind', () => {
    const error: unknown = undefined
    if (isEventBusError(error, 'QueueFull')) expectTypeOf(error.currentSize).toBeNumber()
    expectTypeOf<Extract<EventBusError, { kind: 'Unauthorized' }>['action']>().toEqualTypeOf<
      'publish' | 'subscribe' | 'inspect' | 'source' | 'attach'
    >()
  })
})

describe('an endpoint client is typed as the bus is', () => {
  it('by the catalog its options give, as createEventBus is', async () => {
    const catalog = { 'app.Ping': z.object({ sequence: z.number().int() }) }
    const { hub } = await startHub({ catalog })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'pinger', permissions: { publish: ['app.Ping'], subscribe: ['app.Ping'] } })
    const client = await connectBus(port2, { catalog })
    afterThisTest(() => client.close())
    const got = new Promise((resolve) =>
      client.subscribe('pinger', MessageFilter.types(['app.Ping']), mode, (m) => {
        expectTypeOf(m.payload.data.sequence).toBeNumber()
        resolve(m.payload.data.sequence)
      }),
    )
    await client.publish(Message.create('pinger', { type: 'app.Ping', data: { sequence: 7 } }))
    await expect(got).resolves.toBe(7)
    // @ts-expect-error 'app.Pong' is in neither catalog
    const misspelt = client.subscribe('pinger', MessageFilter.types(['app.Pong']), mode, ignore)
    // The hub answers first that it was never granted.
    await expect(misspelt).rejects.toMatchObject({ kind: 'Unauthorized', action: 'subscribe' })
  })

  it('refuses a misspelt type when it compiles and when it runs, and narrows handlers', async () => {
    const { hub } = await startHub()
    const client = await connectClient(hub, ModuleId.Storage)
    // @ts-expect-error 'RawEvnt' is not in the catalog
    const built = client.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvnt']), mode, ignore)
    await expect(built).rejects.toMatchObject({ kind: 'InvalidFilter' })
    // @ts-expect-error 'RawEvnt' is not in the catalog
    const plain = client.subscribe(ModuleId.Storage, { types: ['RawEvnt'] }, mode, ignore)
    await expect(plain).rejects.toMatchObject({ kind: 'InvalidFilter' })
    await client.subscribe(ModuleId.Storage, { types: ['RewardEvent'] }, mode, (m) => {
      expectTypeOf(m.payload.data.points).toBeNumber()
    })
    await client.subscribe(ModuleId.Storage, MessageFilter.all(), mode, (m) => {
      expectTypeOf(m).toEqualTypeOf<BusMessage>()
    })
  })
})

describe('a request is typed by its reply type', () => {
  it('in process, an application’s own types too, and refuses a reply type the catalog lacks', async () => {
    const catalog = {
      'app.Ping': z.object({ sequence: z.number().int() }),
      'app.Pong': z.object({ echoed: z.number().int() }),
    }
    const bus = createEventBus({ catalog })
    await bus.start()
    afterThisTest(() => bus.shutdown({ drainTimeoutMs: 0 }))
    await bus.subscribe('ponger', MessageFilter.types(['app.Ping']), mode, async (ping) => {
      await bus.publish(
        Message.replyTo(ping, 'ponger', { type: 'app.Pong', data: { echoed: ping.payload.data.sequence } }),
      )
    })
    const ping = Message.create('pinger', { type: 'app.Ping', data: { sequence: 3 } })
    const pong = await bus.request(ping, { replyType: 'app.Pong' })
    expectTypeOf(pong.payload.data.echoed).toBeNumber()
    expect(pong.payload.data.echoed).toBe(3)
    // @ts-expect-error 'app.Pnog' is not in this bus's catalog
    const misspelt = bus.request(ping, { replyType: 'app.Pnog' })
    await expect(misspelt).rejects.toMatchObject({ kind: 'InvalidFilter' })
  })

  it('over a port, as in process', async () => {
    const { hub } = await startHub()
    const client = await connectClient(hub, ModuleId.CuteFigurine)
    const request = Message.create(
      ModuleId.CuteFigurine,
      MessagePayload.AnimationCommand({
        commandId: crypto.randomUUID(),
        animationType: 'wave',
        parameters: {},
        durationMs: 10,
      }),
    )
    // @ts-expect-error 'ModuleReddy' is not in the catalog
    const misspelt = client.request(request, { replyType: 'ModuleReddy' })
    await expect(misspelt).rejects.toMatchObject({ kind: 'InvalidFilter' })
    // Typed, not sent: nothing would answer it.
    const ready = () => client.request(request, { replyType: 'ModuleReady' })
    expectTypeOf(ready).returns.resolves.toEqualTypeOf<BusMessage<'ModuleReady'>>()
  })
})

describe('the app’s modules and windows declare grants of catalog types only', () => {
  it('refuses a misspelt type in a module’s or a window’s permissions when it compiles', () => {
    const module = defineModule({
      id: 'spelling-test',
      // @ts-expect-error 'RawEvnt' is not in the catalog
      permissions: { publish: ['RawEvnt'], subscribe: [] },
      start: () => ({ stop: () => {} }),
    })
    const window = {
      page: 'spelling.html',
      module: 'spelling-test',
      title: 'Spelling',
      // @ts-expect-error 'StateChang' is not in the catalog
      permissions: { publish: [], subscribe: ['StateChang'] },
    } satisfies WindowSpec
    // What slips past the compiler (a cast) is still refused when the host attaches it.
    for (const permissions of [module.permissions, window.permissions] as Permissions[]) {
      expect(() => checkAttachOptions('spelling-test', permissions, builtinCatalog)).toThrow(
        /^Configuration: attach: permissions\.(publish|subscribe) lists '(RawEvnt|StateChang)', which is not in the bus's catalog/,
      )
    }
  })
})

describe('the hub types grants and routes by its bus’s catalog', () => {
  it('refuses a misspelt type in an attachment’s permissions or a route when it compiles and when it runs', async () => {
    const { hub } = await startHub()
    const port = new MessageChannel().port1
    const attach = () =>
      // @ts-expect-error 'RawEvnt' is not in the catalog
      hub.attach(port, { module: 'spelling-test', permissions: { publish: ['RawEvnt'], subscribe: [] } })
    expect(attach).toThrow(/^Configuration: attach: permissions\.publish lists 'RawEvnt'/)
    const route = () =>
      // @ts-expect-error 'RawEvnt' is not in the catalog
      hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvnt'] })
    expect(route).toThrow("Configuration: route: 'RawEvnt' is not in the bus's catalog")
  })

  it('takes grants and routes declared apart (as const), and an application’s own types', async () => {
    const { hub } = await startHub({ catalog: { 'app.Ping': z.object({}) } })
    const pinger = {
      module: 'pinger',
      permissions: { publish: ['app.Ping'], subscribe: ['RawEvent'] },
    } as const
    hub.attach(new MessageChannel().port1, pinger)
    const route = { producer: 'pinger', consumer: ModuleId.Storage, types: ['app.Ping'] } as const
    expect(hub.route(route).types).toEqual(['app.Ping'])
    // Its catalog is its bus's, typed so: the application's entry is there, and at run time too.
    expectTypeOf(hub.catalog['app.Ping']).toEqualTypeOf<z.ZodObject<{}, z.core.$strip>>()
    expect(Object.keys(hub.catalog)).toContain('app.Ping')
  })
})
