/**
 * `client.request` across a port, and `window.skellyBus.request` on top of it: the request goes
 * through the hub, the reply that names it comes back, typed; the grants decide (the requester must
 * be allowed to subscribe to the reply type), a wrong source is refused as publish refuses it, a
 * connection that ends rejects what waits, and a window's requests survive its reconnects.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  BusMessage,
  type BusMessage as BusMessageOf,
  DeliveryMode,
  type EventBus,
  EventBusError,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Attachment, Hub } from '../../src/main/hub/index.js'
import { createWindowApi } from '../../src/preload/window-api.js'
import { type BusClient, connectBus, type Permissions } from '../../src/shared/index.js'
import { validData } from '../helpers.js'
import { afterThisTest, startHub, untilActive } from './fixture.js'
import { overWebSocket } from './websocket-client.js'

const REQUESTER: Permissions = { publish: ['InterventionRequest'], subscribe: ['InterventionResponse'] }
const ANSWERER: Permissions = { publish: ['InterventionResponse'], subscribe: ['InterventionRequest'] }

/** A client attached as `module` with `permissions`, closed after the test. */
async function attached(hub: Hub, module: string, permissions: Permissions) {
  const { port1, port2 } = new MessageChannel()
  const attachment = hub.attach(port1, { module, permissions })
  const client = await connectBus(port2)
  afterThisTest(() => client.close())
  return { client, attachment, port: port2 }
}

/** AiIntegration, on a port of its own, answers every InterventionRequest (`respond` keeps its priority). */
async function aiIntegration(hub: Hub) {
  const { client } = await attached(hub, ModuleId.AiIntegration, ANSWERER)
  await answerAsAi(client)
  return client
}

async function answerAsAi(client: BusClient) {
  await client.respond(
    ModuleId.AiIntegration,
    'InterventionRequest',
    { replyType: 'InterventionResponse', mode: DeliveryMode.Reliable({ timeoutMs: 1000 }) },
    (request) => ({
      requestId: request.payload.data.requestId,
      responseText: `for ${request.source}`,
      animationCues: [],
    }),
  )
}

function tipFrom(source: string) {
  return BusMessage.create(source, MessagePayload.InterventionRequest(validData.InterventionRequest()))
}

async function published(bus: EventBus) {
  return (await bus.metrics()).messagesPublished
}

describe('client.request', () => {
  it('goes through the hub and resolves with the reply that names it', async () => {
    const { hub } = await startHub()
    await aiIntegration(hub)
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    const request = tipFrom(ModuleId.CuteFigurine)
    const reply = await client.request(request, { replyType: 'InterventionResponse' })
    expectTypeOf(reply).toEqualTypeOf<BusMessageOf<'InterventionResponse'>>()
    expect(reply).toMatchObject({ correlationId: request.id, source: ModuleId.AiIntegration })
    expect(reply.payload.data.responseText).toBe(`for ${ModuleId.CuteFigurine}`)
  })

  it('needs the grant to subscribe to the reply type, and publishes nothing without it', async () => {
    const { bus, hub } = await startHub()
    await aiIntegration(hub)
    const { client } = await attached(hub, ModuleId.CuteFigurine, {
      publish: ['InterventionRequest'],
      subscribe: [],
    })
    const refused = await client
      .request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse' })
      .catch((e) => e)
    expect(refused).toMatchObject({ kind: 'Unauthorized', action: 'subscribe', type: 'InterventionResponse' })
    expect(await published(bus)).toBe(0)
  })

  it('refuses a request under another module’s name as publish does', async () => {
    const { bus, hub } = await startHub()
    await aiIntegration(hub)
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    const refused = await client
      .request(tipFrom(ModuleId.Storage), { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    expect(refused).toMatchObject({ kind: 'Unauthorized', action: 'source', module: ModuleId.CuteFigurine })
    expect(await published(bus)).toBe(0)
    // Its own requests go on, on the one subscription for replies it has.
    await client.request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse' })
    const subscriptions = (await bus.metrics()).subscriptions.filter(
      (s) => s.module === ModuleId.CuteFigurine,
    )
    expect(subscriptions).toHaveLength(1)
  })

  it('with `from`, takes only that module’s reply, whose source the hub vouches for', async () => {
    const { hub } = await startHub()
    // Gamification may answer too, and does at once; AiIntegration 20 ms later.
    for (const [module, delayMs] of [
      [ModuleId.Gamification, 0],
      [ModuleId.AiIntegration, 20],
    ] as const) {
      const { client } = await attached(hub, module, ANSWERER)
      await client.respond(
        module,
        'InterventionRequest',
        { replyType: 'InterventionResponse' },
        async (request) => {
          await new Promise((resolve) => setTimeout(resolve, delayMs))
          return {
            requestId: request.payload.data.requestId,
            responseText: `from ${module}`,
            animationCues: [],
          }
        },
      )
    }
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    const asked = tipFrom(ModuleId.CuteFigurine)
    const reply = await client.request(asked, {
      replyType: 'InterventionResponse',
      from: ModuleId.AiIntegration,
    })
    expect(reply).toMatchObject({ correlationId: asked.id, source: ModuleId.AiIntegration })
    const first = await client.request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse' })
    expect(first.source).toBe(ModuleId.Gamification)
  })

  it('asks and is answered over direct routes both ways, the correlation kept', async () => {
    const { bus, hub } = await startHub()
    const asking = hub.route({
      producer: ModuleId.CuteFigurine,
      consumer: ModuleId.AiIntegration,
      types: ['InterventionRequest'],
    })
    const answering = hub.route({
      producer: ModuleId.AiIntegration,
      consumer: ModuleId.CuteFigurine,
      types: ['InterventionResponse'],
    })
    await aiIntegration(hub)
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    // The requester's subscription for replies is what the answering route delivers to.
    await client.request(tipFrom(ModuleId.CuteFigurine), {
      replyType: 'InterventionResponse',
      timeoutMs: 60_000,
    })
    await Promise.all([untilActive(asking), untilActive(answering)])
    const requests = [tipFrom(ModuleId.CuteFigurine), tipFrom(ModuleId.CuteFigurine)]
    const replies = await Promise.all(
      requests.map((request) => client.request(request, { replyType: 'InterventionResponse' })),
    )
    expect(replies.map((reply) => reply.correlationId)).toEqual(requests.map((request) => request.id))
    await vi.waitFor(async () => {
      const routes = (await bus.metrics()).routes ?? []
      for (const route of routes) expect(route.delivered).toBeGreaterThanOrEqual(2)
      expect(routes).toHaveLength(2)
    })
  })

  it('over a direct route, rejects at once when neither the route’s terms nor the hub’s copy reach a subscription that takes it', async () => {
    const { hub } = await startHub()
    const route = hub.route({
      producer: ModuleId.CuteFigurine,
      consumer: ModuleId.AiIntegration,
      types: ['InterventionRequest'],
    })
    // AiIntegration takes urgent requests alone.
    const ai = (await attached(hub, ModuleId.AiIntegration, ANSWERER)).client
    let aiTook = 0
    await ai.subscribe(
      ModuleId.AiIntegration,
      { types: ['InterventionRequest'], minPriority: MessagePriority.High },
      DeliveryMode.BestEffort,
      (request) => {
        aiTook++
        void ai.publish(
          BusMessage.replyTo(
            request,
            ModuleId.AiIntegration,
            MessagePayload.InterventionResponse({
              requestId: request.payload.data.requestId,
              responseText: 'urgent',
              animationCues: [],
            }),
          ),
        )
      },
    )
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    await untilActive(route)
    const ask = (priority: MessagePriority, options: { from?: string; timeoutMs?: number } = {}) =>
      client
        .request(
          BusMessage.withPriority(
            ModuleId.CuteFigurine,
            MessagePayload.InterventionRequest(validData.InterventionRequest()),
            priority,
          ),
          { replyType: 'InterventionResponse', timeoutMs: 60_000, ...options },
        )
        .catch((error: unknown) => error)
    /** A request refused at once: nothing (of `from`) would take it. */
    const refusedAtOnce = async (priority: MessagePriority, from?: string) =>
      expect(await ask(priority, from === undefined ? {} : { from })).toMatchObject({
        kind: 'SubscriberUnavailable',
        subscriber: from ?? '*',
      })
    expect(await ask(MessagePriority.High)).toMatchObject({ source: ModuleId.AiIntegration })
    await refusedAtOnce(MessagePriority.Normal)
    await refusedAtOnce(MessagePriority.High, ModuleId.Gamification)
    // Gamification takes critical requests through the hub: the producer now sends the hub a copy
    // of each request, and the hub counts who took it when the route's consumer did not.
    const gamification = (await attached(hub, ModuleId.Gamification, ANSWERER)).client
    let gamificationTook = 0
    const gamificationTakes = (minPriority?: MessagePriority) =>
      gamification.subscribe(
        ModuleId.Gamification,
        { types: ['InterventionRequest'], ...(minPriority === undefined ? {} : { minPriority }) },
        DeliveryMode.BestEffort,
        () => {
          gamificationTook++
        },
      )
    const critical = await gamificationTakes(MessagePriority.Critical)
    expect(route.state).toBe('active')
    aiTook = 0
    await refusedAtOnce(MessagePriority.Normal)
    await refusedAtOnce(MessagePriority.High, ModuleId.Gamification)
    expect(await ask(MessagePriority.Critical, { from: ModuleId.Gamification, timeoutMs: 50 })).toMatchObject(
      {
        kind: 'DeliveryTimeout',
      },
    )
    // Both counted requests were published all the same; the route's consumer got its copies over
    // the route alone (the hub's copy skipped its subscription), the others' through the hub.
    expect(aiTook).toBe(2)
    expect(gamificationTook).toBe(1)
    // Once Gamification takes every request, a request only it takes waits for its reply.
    await gamification.unsubscribe(critical)
    await gamificationTakes()
    expect(await ask(MessagePriority.Normal, { timeoutMs: 50 })).toMatchObject({ kind: 'DeliveryTimeout' })
    await refusedAtOnce(MessagePriority.Normal, ModuleId.AiIntegration)
    expect(route.state).toBe('active')
  })

  it('rejects at once with SubscriberUnavailable when no subscription (of `from`) took it, as the hub counts', async () => {
    const { bus, hub } = await startHub()
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    const unheard = await client
      .request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    expect(unheard).toBeInstanceOf(EventBusError)
    expect(unheard).toMatchObject({ kind: 'SubscriberUnavailable', subscriber: '*' })
    // Gamification, on a port of its own, takes requests; the request wants AiIntegration's reply.
    const gamification = (await attached(hub, ModuleId.Gamification, ANSWERER)).client
    const taken: string[] = []
    await gamification.subscribe(
      ModuleId.Gamification,
      { types: ['InterventionRequest'] },
      DeliveryMode.BestEffort,
      (request) => {
        taken.push(request.id)
      },
    )
    const asked = tipFrom(ModuleId.CuteFigurine)
    const notFromAi = await client
      .request(asked, { replyType: 'InterventionResponse', from: ModuleId.AiIntegration, timeoutMs: 60_000 })
      .catch((e) => e)
    expect(notFromAi).toMatchObject({ kind: 'SubscriberUnavailable', subscriber: ModuleId.AiIntegration })
    expect(notFromAi.message).toContain(`no subscription of 'ai-integration' takes InterventionRequest`)
    await vi.waitFor(() => expect(taken).toEqual([asked.id]))
    expect(await published(bus)).toBe(2)
  })

  it('over WebSocket too: refused at once while nothing takes it, answered once something does', async () => {
    const { hub } = await startHub()
    const client = await overWebSocket(hub, ModuleId.CuteFigurine)
    await expect(
      client.request(tipFrom(ModuleId.CuteFigurine), {
        replyType: 'InterventionResponse',
        timeoutMs: 60_000,
      }),
    ).rejects.toMatchObject({ kind: 'SubscriberUnavailable', subscriber: '*' })
    await aiIntegration(hub)
    const asked = tipFrom(ModuleId.CuteFigurine)
    const reply = await client.request(asked, {
      replyType: 'InterventionResponse',
      from: ModuleId.AiIntegration,
    })
    expect(reply.correlationId).toBe(asked.id)
  })

  it('waits for a Reliable responder whose connection dropped, and is answered once it is back', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 30_000 })
    const first = await attached(hub, ModuleId.AiIntegration, ANSWERER)
    await answerAsAi(first.client)
    first.port.close() // no bye: the hub parks the Reliable subscription for its grace period
    await vi.waitFor(async () =>
      expect((await bus.metrics()).subscriptions).toMatchObject([
        { module: ModuleId.AiIntegration, parked: true },
      ]),
    )
    const { client } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    const asked = tipFrom(ModuleId.CuteFigurine)
    const reply = client.request(asked, {
      replyType: 'InterventionResponse',
      from: ModuleId.AiIntegration,
      timeoutMs: 10_000,
    })
    await aiIntegration(hub) // back: the parked subscription resumes with the request it held
    expect(await reply).toMatchObject({ correlationId: asked.id, source: ModuleId.AiIntegration })
  })

  it('rejects what waits with Disconnected when the connection ends, and every later request', async () => {
    const { bus, hub } = await startHub()
    const { client, attachment } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
    // AiIntegration takes requests and never answers: only the connection's end can settle one
    // before a minute.
    await bus.subscribe(
      ModuleId.AiIntegration,
      { types: ['InterventionRequest'] },
      DeliveryMode.BestEffort,
      () => {},
    )
    const waiting = client
      .request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    await new Promise((resolve) => setTimeout(resolve, 50))
    attachment.detach()
    expect(await waiting).toMatchObject({ kind: 'Disconnected' })
    await expect(
      client.request(tipFrom(ModuleId.CuteFigurine), { replyType: 'InterventionResponse' }),
    ).rejects.toMatchObject({ kind: 'Disconnected' })
  })
})

describe('window.skellyBus.request', () => {
  /** A window whose connections the hub attaches as a requester; `attachments` are its connections. */
  function windowOn(hub: Hub, attachments: Attachment[]) {
    return createWindowApi(ModuleId.CuteFigurine, async () => {
      const { client, attachment } = await attached(hub, ModuleId.CuteFigurine, REQUESTER)
      attachments.push(attachment)
      return client
    })
  }

  it('builds the envelope with the options given and resolves with the reply, across a reconnect too', async () => {
    const { bus, hub } = await startHub()
    await aiIntegration(hub)
    const attachments: Attachment[] = []
    const page = windowOn(hub, attachments)
    const data = validData.InterventionRequest()
    const reply = await page.request('InterventionRequest', data, {
      replyType: 'InterventionResponse',
      priority: MessagePriority.High,
      timeoutMs: 5000,
    })
    expectTypeOf(reply).toEqualTypeOf<BusMessageOf<'InterventionResponse'>>()
    expect(reply.payload.data.requestId).toBe(data.requestId)
    // replyTo keeps the request's priority: the envelope had the one asked for.
    expect(reply.priority).toBe(MessagePriority.High)
    // The connection drops; the window reconnects and subscribes again, its replies' one included.
    const states: string[] = []
    page.onConnection((state) => states.push(state))
    attachments[0]?.detach()
    await vi.waitFor(() => expect(states.slice(-2)).toEqual(['reconnecting', 'open']))
    const again = await page.request('InterventionRequest', validData.InterventionRequest(), {
      replyType: 'InterventionResponse',
    })
    expect(again.payload.type).toBe('InterventionResponse')
    expect(attachments).toHaveLength(2)
    const subscriptions = (await bus.metrics()).subscriptions.filter(
      (s) => s.module === ModuleId.CuteFigurine,
    )
    expect(subscriptions).toHaveLength(1)
  })

  it('is refused at once, with a plain error, when nothing of `from` takes the request', async () => {
    const { hub } = await startHub()
    await aiIntegration(hub)
    const page = windowOn(hub, [])
    const refusal = await page
      .request('InterventionRequest', validData.InterventionRequest(), {
        replyType: 'InterventionResponse',
        from: ModuleId.Storage,
        timeoutMs: 60_000,
      })
      .catch((e: unknown) => e)
    expect(refusal).not.toBeInstanceOf(Error)
    expect(refusal).toMatchObject({ kind: 'SubscriberUnavailable', subscriber: ModuleId.Storage })
    expect((refusal as { message: string }).message).toMatch(
      /^SubscriberUnavailable: no subscription of 'storage' takes InterventionRequest, so no InterventionResponse can answer request /,
    )
  })

  it('takes a whole message too, and refuses options it cannot read as plain errors', async () => {
    const { bus, hub } = await startHub()
    await aiIntegration(hub)
    const page = windowOn(hub, [])
    const request = tipFrom(ModuleId.CuteFigurine)
    expect((await page.request(request, { replyType: 'InterventionResponse' })).correlationId).toBe(
      request.id,
    )
    const before = await published(bus)
    const data = validData.InterventionRequest()
    const refusals = await Promise.all(
      [
        undefined,
        5,
        { replyType: 'InterventionResponse', prority: 2 },
        { replyType: 'InterventionResponse', priority: 9 },
      ].map((options) =>
        page.request('InterventionRequest', data, options as never).catch((e: unknown) => e),
      ),
    )
    for (const refusal of refusals) expect(refusal).not.toBeInstanceOf(Error)
    expect(refusals.map((r) => (r as { message: string }).message)).toEqual([
      'Configuration: request options are { replyType: a message type, timeoutMs?: 1 to 86400000 ms, from?: a module id }; options: Invalid input: expected object, received undefined',
      'Configuration: request options are { replyType: a message type, timeoutMs?: 1 to 86400000 ms, from?: a module id }; options: Invalid input: expected object, received number',
      'Configuration: request options are { replyType: a message type, timeoutMs?: 1 to 86400000 ms, from?: a module id }; options: Unrecognized key: "prority"',
      expect.stringMatching(
        /^MessageRejected: publish options are \{ priority\?: 0 to 3, correlationId\?: string \} \(priority: /,
      ),
    ])
    expect(await published(bus)).toBe(before)
  })
})
