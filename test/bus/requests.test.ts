/**
 * `bus.request`: publish a message and wait for the reply that names it. The reply wanted is the
 * first of the asked type whose correlationId is the request's id; everything else of that type is
 * ignored. Bad options and messages are refused before anything is published, and nothing waits
 * past its timeout or the bus's shutdown.
 */
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DEFAULT_REPLY_TIMEOUT_MS,
  DeliveryMode,
  type EventBus,
  EventBusError,
  isRecoverable,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { shutDownAfterEach, useFakeClock, validData } from '../helpers.js'

const shutDown = shutDownAfterEach()

// Runs before the buses are shut down: hooks after a test run last registered first.
afterEach(() => {
  vi.useRealTimers()
})

async function startedBus(): Promise<EventBus> {
  const bus = shutDown(createEventBus())
  await bus.start()
  return bus
}

function tipRequest() {
  return BusMessage.create(
    ModuleId.CuteFigurine,
    MessagePayload.InterventionRequest(validData.InterventionRequest()),
  )
}

/** AiIntegration answers every InterventionRequest; `before` runs first (to publish decoys). */
async function answerRequests(
  bus: EventBus,
  before: (request: BusMessage<'InterventionRequest'>) => Promise<void> = async () => {},
) {
  await bus.subscribe(
    ModuleId.AiIntegration,
    MessageFilter.types(['InterventionRequest']),
    DeliveryMode.Reliable({ timeoutMs: 1000 }),
    async (request) => {
      await before(request)
      await bus.publish(
        BusMessage.replyTo(
          request,
          ModuleId.AiIntegration,
          MessagePayload.InterventionResponse({
            requestId: request.payload.data.requestId,
            responseText: `answer to ${request.id}`,
            animationCues: [],
          }),
        ),
      )
    },
  )
}

/** `module` takes every InterventionRequest and never answers; resolves with what it was given. */
async function takeRequestsSilently(bus: EventBus, module: string = ModuleId.AiIntegration) {
  const taken: string[] = []
  await bus.subscribe(
    module,
    MessageFilter.types(['InterventionRequest']),
    DeliveryMode.BestEffort,
    (request) => {
      taken.push(request.id)
    },
  )
  return taken
}

/** The subscriptions `module` has on `bus`. */
async function subscriptionsOf(bus: EventBus, module: string) {
  return (await bus.metrics()).subscriptions.filter((subscription) => subscription.module === module)
}

describe('bus.request', () => {
  it('resolves with the reply that names the request and has its type, typed so, past every other', async () => {
    const bus = await startedBus()
    const response = (correlationId?: string) =>
      MessagePayload.InterventionResponse({
        ...validData.InterventionResponse(),
        responseText: `decoy ${correlationId}`,
      })
    await answerRequests(bus, async (request) => {
      // Decoys first: no correlation, another request's, and the right id on another type.
      await bus.publish(BusMessage.create(ModuleId.AiIntegration, response()))
      await bus.publish(BusMessage.replyTo(tipRequest(), ModuleId.AiIntegration, response('other')))
      await bus.publish(
        BusMessage.replyTo(
          request,
          ModuleId.AiIntegration,
          MessagePayload.AnimationCommand(validData.AnimationCommand()),
        ),
      )
    })
    // The requester now listens to AnimationCommands too: a request answered by one.
    const cue = await bus.request(tipRequest(), { replyType: 'AnimationCommand' })
    expect(cue.payload.type).toBe('AnimationCommand')
    const request = tipRequest()
    const reply = await bus.request(request, { replyType: 'InterventionResponse' })
    expectTypeOf(reply).toEqualTypeOf<BusMessage<'InterventionResponse'>>()
    expect(reply.correlationId).toBe(request.id)
    expect(reply.payload.data.responseText).toBe(`answer to ${request.id}`)
    expect(reply.source).toBe(ModuleId.AiIntegration)
  })

  it('subscribes the requester once per reply type, for every request after the first too', async () => {
    const bus = await startedBus()
    await answerRequests(bus)
    const requests = [tipRequest(), tipRequest(), tipRequest()]
    const replies = await Promise.all(
      requests.map((r) => bus.request(r, { replyType: 'InterventionResponse' })),
    )
    expect(replies.map((reply) => reply.correlationId)).toEqual(requests.map((r) => r.id))
    await bus.request(tipRequest(), { replyType: 'InterventionResponse' })
    const subscriptions = await subscriptionsOf(bus, ModuleId.CuteFigurine)
    expect(subscriptions).toHaveLength(1)
    expect(subscriptions[0]).toMatchObject({ mode: 'BestEffort', delivered: 4 })
    // Another module's request for the same reply type is its own subscription's to take.
    const gamificationAsks = BusMessage.create(
      ModuleId.Gamification,
      MessagePayload.InterventionRequest(validData.InterventionRequest()),
    )
    await bus.request(gamificationAsks, { replyType: 'InterventionResponse' })
    expect(await subscriptionsOf(bus, ModuleId.Gamification)).toMatchObject([
      { mode: 'BestEffort', delivered: 1 },
    ])
  })

  it('asks again for a replies subscription refused once (a hub’s subscription limit, say)', async () => {
    const bus = await startedBus()
    await answerRequests(bus)
    vi.spyOn(bus, 'subscribe').mockRejectedValueOnce(
      EventBusError.of('QueueFull', { currentSize: 1024, maxSize: 1024 }),
    )
    const options = { replyType: 'InterventionResponse' } as const
    await expect(bus.request(tipRequest(), options)).rejects.toMatchObject({ kind: 'QueueFull' })
    expect((await bus.request(tipRequest(), options)).payload.type).toBe('InterventionResponse')
  })

  it('leaves nothing of a request waiting once it is over, answered or timed out: its message may ask again', async () => {
    const bus = await startedBus()
    const taken = await takeRequestsSilently(bus)
    const request = tipRequest()
    const options = { replyType: 'InterventionResponse', timeoutMs: 20 } as const
    await expect(bus.request(request, options)).rejects.toMatchObject({ kind: 'DeliveryTimeout' })
    await expect(bus.request(request, options)).rejects.toMatchObject({ kind: 'DeliveryTimeout' })
    expect(taken).toEqual([request.id, request.id])
    await answerRequests(bus)
    const answered = tipRequest()
    expect((await bus.request(answered, options)).correlationId).toBe(answered.id)
    expect((await bus.request(answered, options)).correlationId).toBe(answered.id)
  })

  it('waits DEFAULT_REPLY_TIMEOUT_MS for a reply unless told otherwise', async () => {
    const bus = await startedBus()
    await takeRequestsSilently(bus)
    useFakeClock()
    let outcome: unknown
    void bus.request(tipRequest(), { replyType: 'InterventionResponse' }).catch((e) => {
      outcome = e
    })
    await vi.advanceTimersByTimeAsync(DEFAULT_REPLY_TIMEOUT_MS - 1)
    expect(outcome).toBeUndefined()
    await vi.advanceTimersByTimeAsync(10) // the timeout, then a turn for what came meanwhile to be read
    expect(outcome).toMatchObject({ kind: 'DeliveryTimeout', elapsedMs: DEFAULT_REPLY_TIMEOUT_MS })
  })

  it('rejects with a recoverable DeliveryTimeout naming the request when no reply comes, and ignores a late one', async () => {
    const bus = await startedBus()
    await takeRequestsSilently(bus)
    const request = tipRequest()
    const error = await bus
      .request(request, { replyType: 'InterventionResponse', timeoutMs: 20 })
      .catch((e) => e)
    expect(error).toMatchObject({ kind: 'DeliveryTimeout', elapsedMs: 20 })
    expect(isRecoverable(error)).toBe(true)
    expect(error.message).toBe(
      `DeliveryTimeout: no InterventionResponse replied to InterventionRequest ${request.id} within 20 ms; ` +
        'does a module subscribe to InterventionRequest and answer with BusMessage.replyTo? (or raise timeoutMs)',
    )
    // The late reply is delivered to the requester's subscription and goes nowhere else.
    await bus.publish(
      BusMessage.replyTo(
        request,
        ModuleId.AiIntegration,
        MessagePayload.InterventionResponse(validData.InterventionResponse()),
      ),
    )
    await vi.waitFor(async () =>
      expect((await subscriptionsOf(bus, ModuleId.CuteFigurine))[0]?.delivered).toBe(1),
    )
  })

  it('with `from`, takes the reply of that module only, past one from another naming the request', async () => {
    const bus = await startedBus()
    // Gamification answers first, naming the request; AiIntegration a moment later.
    await bus.respond(
      ModuleId.Gamification,
      'InterventionRequest',
      { replyType: 'InterventionResponse' },
      (request) => ({
        requestId: request.payload.data.requestId,
        responseText: 'from an impostor',
        animationCues: [],
      }),
    )
    await answerRequests(bus, () => new Promise((resolve) => setTimeout(resolve, 20)))
    const reply = await bus.request(tipRequest(), {
      replyType: 'InterventionResponse',
      from: ModuleId.AiIntegration,
    })
    expect(reply.source).toBe(ModuleId.AiIntegration)
    // Without `from`, the first reply wins: the impostor's.
    expect((await bus.request(tipRequest(), { replyType: 'InterventionResponse' })).source).toBe(
      ModuleId.Gamification,
    )
    // Storage takes the request and does not answer; only the impostor does: the request times
    // out, saying whose reply it waited for.
    await takeRequestsSilently(bus, ModuleId.Storage)
    const unanswered = tipRequest()
    const error = await bus
      .request(unanswered, { replyType: 'InterventionResponse', from: ModuleId.Storage, timeoutMs: 100 })
      .catch((e) => e)
    expect(error).toMatchObject({ kind: 'DeliveryTimeout' })
    expect(error.message).toContain(
      `no InterventionResponse from 'storage' replied to InterventionRequest ${unanswered.id} within 100 ms; does 'storage' subscribe`,
    )
  })

  it('rejects at once with a recoverable SubscriberUnavailable when nothing (of `from`) takes the request', async () => {
    const bus = await startedBus()
    useFakeClock()
    const unheard = tipRequest()
    const error = await bus
      .request(unheard, { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    expect(error).toMatchObject({ kind: 'SubscriberUnavailable', subscriber: '*', retryAfterMs: 1000 })
    expect(isRecoverable(error)).toBe(true)
    expect(error.message).toBe(
      `SubscriberUnavailable: no subscription takes InterventionRequest, so no InterventionResponse can answer request ${unheard.id}; ` +
        'retry once a module subscribes to InterventionRequest (in 1000 ms, say)',
    )
    // Only Gamification takes it, and the request wants AiIntegration's reply.
    const taken = await takeRequestsSilently(bus, ModuleId.Gamification)
    const unanswerable = tipRequest()
    const fromAi = await bus
      .request(unanswerable, { replyType: 'InterventionResponse', from: ModuleId.AiIntegration })
      .catch((e) => e)
    expect(fromAi).toMatchObject({ kind: 'SubscriberUnavailable', subscriber: ModuleId.AiIntegration })
    expect(fromAi.message).toContain(
      "SubscriberUnavailable: no subscription of 'ai-integration' takes InterventionRequest, so no InterventionResponse can answer request",
    )
    expect(fromAi.message).toContain("retry once 'ai-integration' subscribes to InterventionRequest")
    // Both were published (the tail and the counters show them); neither left a timer behind.
    expect(vi.getTimerCount()).toBe(0)
    vi.useRealTimers()
    await vi.waitFor(() => expect(taken).toEqual([unanswerable.id]))
    expect((await bus.metrics()).types.InterventionRequest).toMatchObject({ published: 2 })
  })

  it('refuses bad options before publishing anything, saying what they take', async () => {
    const bus = await startedBus()
    const refusals = [
      [undefined, 'options: Invalid input: expected object, received undefined'],
      [{}, 'replyType: Invalid input: expected string, received undefined'],
      [{ replyType: 'InterventionResponse', timeoutMs: 0 }, 'timeoutMs: Too small: expected number to be >0'],
      [
        { replyType: 'InterventionResponse', timeoutMs: 1.5 },
        'timeoutMs: Invalid input: expected int, received number',
      ],
      [{ replyType: 'InterventionResponse', timout: 100 }, 'options: Unrecognized key: "timout"'],
      [{ replyTyp: 'InterventionResponse' }, 'options: Unrecognized key: "replyTyp"'],
      [
        new Proxy(
          {},
          {
            get() {
              throw new Error('trap')
            },
          },
        ),
        'the options could not be read: Error: trap',
      ],
      [
        { replyType: 'InterventionResponse', from: 'AiIntegration' },
        'from: a module id is kebab-case: a lowercase letter, then up to 63 of [a-z0-9-]',
      ],
    ] as const
    for (const [options, detail] of refusals) {
      const error = await bus.request(tipRequest(), options as never).catch((e) => e)
      expect(error).toMatchObject({ kind: 'Configuration' })
      expect(error.message).toBe(
        `Configuration: request options are { replyType: a message type, timeoutMs?: 1 to 86400000 ms, from?: a module id }; ${detail}`,
      )
    }
    expect((await bus.metrics()).messagesPublished).toBe(0)
    expect(await subscriptionsOf(bus, ModuleId.CuteFigurine)).toEqual([])
  })

  it('refuses a reply type the catalog lacks with the subscription’s error, and takes a right one next', async () => {
    const bus = await startedBus()
    await answerRequests(bus)
    const refused = await bus
      .request(tipRequest(), { replyType: 'InterventionRespons' } as never)
      .catch((e) => e)
    expect(refused).toMatchObject({ kind: 'InvalidFilter' })
    expect(refused.message).toContain("'InterventionRespons'")
    expect((await bus.metrics()).messagesPublished).toBe(0)
    const reply = await bus.request(tipRequest(), { replyType: 'InterventionResponse' })
    expect(reply.payload.type).toBe('InterventionResponse')
  })

  it('refuses what is no message, and a message the bus rejects, leaving no timer behind', async () => {
    const bus = await startedBus()
    const noId = { source: ModuleId.CuteFigurine, payload: {} }
    const noSource = { id: 'a-request', payload: {} }
    for (const notAMessage of [null, 'hello', { payload: {} }, noId, noSource]) {
      const error = await bus
        .request(notAMessage as never, { replyType: 'InterventionResponse' })
        .catch((e) => e)
      expect(error).toMatchObject({ kind: 'MessageRejected' })
      expect(error.message).toContain(
        'request takes a message (BusMessage.create(...)) with a string id and source',
      )
    }
    useFakeClock()
    const invalid = BusMessage.create(
      ModuleId.CuteFigurine,
      MessagePayload.InterventionRequest({ requestId: 'no uuid' } as never),
    )
    const error = await bus
      .request(invalid, { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    expect(error).toMatchObject({ kind: 'MessageRejected' })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('refuses a second request with the id of one still waiting, and still answers the first', async () => {
    const bus = await startedBus()
    let answer: (() => void) | undefined
    await answerRequests(bus, () => new Promise<void>((resolve) => (answer = resolve)))
    const request = tipRequest()
    const first = bus.request(request, { replyType: 'InterventionResponse' })
    await vi.waitFor(() => expect(answer).toBeDefined())
    const second = await bus.request(request, { replyType: 'InterventionResponse' }).catch((e) => e)
    expect(second).toMatchObject({ kind: 'MessageRejected' })
    expect(second.message).toContain(`a request with id '${request.id}' is waiting for its reply already`)
    answer?.()
    expect((await first).correlationId).toBe(request.id)
  })

  it('rejects what still waits when the bus shuts down, and every later request', async () => {
    const bus = await startedBus()
    await takeRequestsSilently(bus)
    const waiting = bus
      .request(tipRequest(), { replyType: 'InterventionResponse', timeoutMs: 60_000 })
      .catch((e) => e)
    await vi.waitFor(async () => expect((await bus.metrics()).messagesPublished).toBe(1))
    await bus.shutdown({ drainTimeoutMs: 0 })
    expect(await waiting).toMatchObject({ kind: 'BusShuttingDown' })
    await expect(bus.request(tipRequest(), { replyType: 'InterventionResponse' })).rejects.toMatchObject({
      kind: 'BusShuttingDown',
    })
  })
})
