/**
 * `bus.respond`: a module answers requests by returning the reply's data. The reply is published
 * for it, naming the request; a failed answer or a refused reply fails the request's delivery
 * (Reliable: retried, then dead-lettered with the reason), and bad arguments are refused before
 * anything is subscribed.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type EventBus,
  type EventBusOptions,
  type InterventionResponse,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import { MAX_LABEL_LENGTH } from '../../src/shared/subscribe-arguments.js'
import { shutDownAfterEach, validData } from '../helpers.js'

const shutDown = shutDownAfterEach()

/** A started bus that gives up on a failing delivery at once (one retry, 1 ms later). */
async function startedBus(options: EventBusOptions = {}): Promise<EventBus> {
  const bus = shutDown(
    createEventBus({
      maxRetryAttempts: 1,
      retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
      ...options,
    }),
  )
  await bus.start()
  return bus
}

function tipRequest(priority: MessagePriority = MessagePriority.Normal) {
  return BusMessage.withPriority(
    ModuleId.CuteFigurine,
    MessagePayload.InterventionRequest(validData.InterventionRequest()),
    priority,
  )
}

const REPLY = { replyType: 'InterventionResponse' } as const

/** What the bus holds of `module`: its subscriptions, and what was published of the reply type. */
async function traces(bus: EventBus, module: string) {
  const metrics = await bus.metrics()
  return {
    subscriptions: metrics.subscriptions.filter((subscription) => subscription.module === module),
    replies: metrics.types.InterventionResponse?.published ?? 0,
  }
}

/** Waits until the bus has dead-lettered something, and gives the entries. */
async function deadLettered(bus: EventBus) {
  await expect.poll(async () => (await bus.deadLetters.list()).length).toBeGreaterThan(0)
  return bus.deadLetters.list()
}

describe('bus.respond', () => {
  it('publishes what the answer returns as the reply that names the request, from the module, at its priority', async () => {
    const bus = await startedBus()
    const subscriptionId = await bus.respond(
      ModuleId.AiIntegration,
      'InterventionRequest',
      REPLY,
      (request) => {
        expectTypeOf(request.payload.data.requestId).toEqualTypeOf<string>()
        return {
          requestId: request.payload.data.requestId,
          responseText: 'Stretch!',
          animationCues: ['wave'],
        }
      },
    )
    const request = tipRequest(MessagePriority.High)
    const reply = await bus.request(request, REPLY)
    expect(reply).toMatchObject({
      correlationId: request.id,
      source: ModuleId.AiIntegration,
      priority: MessagePriority.High,
      payload: {
        type: 'InterventionResponse',
        data: {
          requestId: request.payload.data.requestId,
          responseText: 'Stretch!',
          animationCues: ['wave'],
        },
      },
    })
    const { subscriptions } = await traces(bus, ModuleId.AiIntegration)
    expect(subscriptions).toEqual([
      expect.objectContaining({
        id: subscriptionId,
        mode: 'Reliable',
        filter: 'types=[InterventionRequest] sources=*',
      }),
    ])
  })

  it('waits for an answer that is a promise, and takes the delivery mode it is given', async () => {
    const bus = await startedBus()
    await bus.respond(
      ModuleId.AiIntegration,
      'InterventionRequest',
      { ...REPLY, mode: DeliveryMode.BestEffort },
      async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 5))
        return { ...validData.InterventionResponse(), responseText: `later, for ${request.id}` }
      },
    )
    const request = tipRequest()
    expect((await bus.request(request, REPLY)).payload.data.responseText).toBe(`later, for ${request.id}`)
    expect((await traces(bus, ModuleId.AiIntegration)).subscriptions).toEqual([
      expect.objectContaining({ mode: 'BestEffort' }),
    ])
  })

  it('fails the delivery when the answer throws: retried, then dead-lettered with its error', async () => {
    const bus = await startedBus()
    let answered = 0
    await bus.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () => {
      answered += 1
      throw new Error('the model is asleep')
    })
    const request = tipRequest()
    await bus.publish(request)
    const [entry] = await deadLettered(bus)
    expect(entry).toMatchObject({ message: { id: request.id }, reason: 'MaxRetriesExceeded', attempts: 2 })
    expect(entry?.lastError).toContain('the model is asleep')
    expect(answered).toBe(2)
    expect((await traces(bus, ModuleId.AiIntegration)).replies).toBe(0)
  })

  it('fails the delivery with the refusal when the reply is refused, and publishes nothing', async () => {
    const bus = await startedBus()
    await bus.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () => ({
      ...validData.InterventionResponse(),
      responseText: 42 as unknown as string,
    }))
    await bus.publish(tipRequest())
    const [entry] = await deadLettered(bus)
    expect(entry?.lastError).toMatch(/MessageRejected.*responseText/)
    expect((await traces(bus, ModuleId.AiIntegration)).replies).toBe(0)
  })

  it('says so when the answer returns nothing, rather than publishing an empty reply', async () => {
    const bus = await startedBus()
    const forgetful = (() => {}) as unknown as () => InterventionResponse
    await bus.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, forgetful)
    const request = tipRequest()
    await bus.publish(request)
    const [entry] = await deadLettered(bus)
    expect(entry?.lastError).toContain(
      `the answer to InterventionRequest ${request.id} returned nothing: it must return the InterventionResponse reply's data`,
    )
    expect((await traces(bus, ModuleId.AiIntegration)).replies).toBe(0)
  })

  it('refuses bad arguments before subscribing anything', async () => {
    const bus = await startedBus()
    const answer = () => validData.InterventionResponse()
    const respond = (requestType: unknown, options: unknown, handler: unknown = answer) =>
      bus.respond(
        ModuleId.AiIntegration,
        requestType as 'InterventionRequest',
        options as typeof REPLY,
        handler as typeof answer,
      )
    await expect(respond('InterventionRequest', { replyTyp: 'InterventionResponse' })).rejects.toMatchObject({
      kind: 'Configuration',
      message: expect.stringMatching(
        /^Configuration: respond options are .*; options: Unrecognized key: "replyTyp"$/,
      ),
    })
    await expect(
      respond('InterventionRequest', { ...REPLY, mode: { kind: 'Sometimes' } }),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      message: expect.stringContaining('mode.kind'),
    })
    await expect(respond('InterventionRequest', { replyType: 'InterventionAnswer' })).rejects.toMatchObject({
      kind: 'Configuration',
      message: "Configuration: respond: the reply type 'InterventionAnswer' is not in the bus's catalog",
    })
    await expect(respond('InterventionRequest', REPLY, 'not a function')).rejects.toMatchObject({
      kind: 'Configuration',
      message: "Configuration: respond: the answer must be a function that returns the reply's data",
    })
    await expect(respond('InterventionAsk', REPLY)).rejects.toMatchObject({ kind: 'InvalidFilter' })
    expect((await traces(bus, ModuleId.AiIntegration)).subscriptions).toEqual([])
  })

  it('answers with a reply type of any length its catalog allows, its subscription labelled within the bound', async () => {
    const replyType =
      'app.ReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReplyReply'
    const bus = shutDown(
      createEventBus({
        catalog: { 'app.Ask': z.object({ n: z.number() }), [replyType]: z.object({ n: z.number() }) },
      }),
    )
    await bus.start()
    const sid = await bus.respond(ModuleId.Storage, 'app.Ask', { replyType }, (request) => ({
      n: request.payload.data.n + 1,
    }))
    const reply = await bus.request(
      BusMessage.create(ModuleId.Gamification, { type: 'app.Ask', data: { n: 1 } }),
      {
        replyType,
      },
    )
    expect(reply.payload).toEqual({ type: replyType, data: { n: 2 } })
    const label = (await bus.metrics()).subscriptions.find(({ id }) => id === sid)?.label
    expect(label).toBe(`answers with ${replyType}`.slice(0, MAX_LABEL_LENGTH))
  })

  it('ends with unsubscribe: later requests find nothing to answer them', async () => {
    const bus = await startedBus()
    const subscriptionId = await bus.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () =>
      validData.InterventionResponse(),
    )
    await bus.unsubscribe(subscriptionId)
    await expect(bus.request(tipRequest(), { ...REPLY, timeoutMs: 60_000 })).rejects.toMatchObject({
      kind: 'SubscriberUnavailable',
    })
  })

  it('types the answer by the reply type: data of another type fails to compile', () => {
    // Typed, never called: these lines only have to compile (or fail to, where marked).
    const typeOnly = (bus: EventBus) => {
      void bus.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () =>
        // @ts-expect-error an AnimationCommand's data is no InterventionResponse
        validData.AnimationCommand(),
      )
      void bus.respond(
        ModuleId.AiIntegration,
        'InterventionRequest',
        // @ts-expect-error a reply type the catalog lacks
        { replyType: 'InterventionAnswer' },
        () => ({}),
      )
      // @ts-expect-error a request type the catalog lacks
      void bus.respond(ModuleId.AiIntegration, 'InterventionAsk', REPLY, () =>
        validData.InterventionResponse(),
      )
    }
    expect(typeOnly).toBeTypeOf('function')
  })
})
