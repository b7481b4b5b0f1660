/**
 * `window.skellyBus` as a page calls it: `unsubscribe` stops delivery at once, as in process (on
 * an open connection it reaches the endpoint client before anything else can run), and a bad call
 * rejects with the error's kind and message as a plain object, which crosses the context bridge.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import {
  BusMessage,
  DeliveryMode,
  type Envelope,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import type { SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { createWindowApi } from '../../src/preload/window-api.js'
import { skellyBusWith } from '../../src/renderer/skelly-bus.js'
import { connectWindowBus, resuming } from '../../src/shared/client.js'
import { type BusClient, EventBusError, fromNodePort, type Permissions } from '../../src/shared/index.js'
import { advance, deferred, rawEvent, useFakeClock, validData, waitFor } from '../helpers.js'
import { afterThisTest, connectClient, startHub } from '../hub/fixture.js'

/**
 * A window API whose connections the hub attaches as `module` with `permissions` (publishing
 * RawEvents only unless given); `connections` holds the hub's side of each, the last one open, so
 * a test can drop the connection as a lost transport does (closing the hub's port: the hub parks
 * the window's Reliable subscriptions, the window reconnects).
 */
function windowOn(
  hub: Hub,
  module: string,
  permissions: Permissions = { publish: ['RawEvent'], subscribe: [] },
  /** Awaited before each connection is made, told how many were made before it. */
  beforeConnecting: (made: number) => Promise<void> = async () => {},
  /** Given each connection's client as it is made (the first is number 1), before the window has it. */
  onConnected: (client: BusClient, made: number) => void = () => {},
): { page: SkellyBusApi; connections: MessagePort[] } {
  const connections: MessagePort[] = []
  const page = createWindowApi(module, async () => {
    await beforeConnecting(connections.length)
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module, permissions })
    connections.push(port1)
    const client = await connectWindowBus(port2)
    afterThisTest(() => client.close())
    onConnected(client, connections.length)
    return client
  })
  return { page, connections }
}

/**
 * A window API of `module` (publishing RawEvents unless told) whose first connection drops as the
 * hub sends its first answer of kind `answer` (`okr` to a publish, `res` to a subscribe): the hub
 * did what was asked, the window never learns it did.
 */
function windowLosingItsFirstAnswer(
  hub: Hub,
  answer: 'okr' | 'res' = 'okr',
  module: string = ModuleId.DataCapture,
  permissions: Permissions = { publish: ['RawEvent'], subscribe: [] },
) {
  let made = 0
  return createWindowApi(module, async () => {
    const { port1, port2 } = new MessageChannel()
    const hubSide = fromNodePort(port1)
    const first = made++ === 0
    hub.attach(
      {
        ...hubSide,
        send: (unit) => {
          const answers = Array.isArray(unit) && unit.some((frame) => (frame as { t?: string }).t === answer)
          if (first && answers) hubSide.close()
          else hubSide.send(unit)
        },
      },
      { module, permissions },
    )
    const client = await connectWindowBus(port2)
    afterThisTest(() => client.close())
    return client
  })
}

/**
 * A window of module `figurine` (subscribing to RawEvents) whose connection the test drops with
 * `drop()` (resolving once the window knows), and which reconnects only on `reconnect()`.
 */
function windowReconnectingWhenTold(hub: Hub) {
  let reconnect = () => {}
  const { page, connections } = windowOn(hub, 'figurine', { publish: [], subscribe: ['RawEvent'] }, (made) =>
    made === 0 ? Promise.resolve() : new Promise<void>((resolve) => (reconnect = resolve)),
  )
  const states: string[] = []
  page.onConnection((state) => states.push(state))
  return {
    page,
    async drop() {
      connections[0]?.close()
      await waitFor(() => states.includes('reconnecting'))
    },
    reconnect: () => reconnect(),
  }
}

describe('the window API', () => {
  it('unsubscribes on an open connection before its promise yields a tick', async () => {
    const { hub } = await startHub()
    const client = await connectClient(hub, ModuleId.Storage)
    const unsubscribed: string[] = []
    const unsubscribe = client.unsubscribe.bind(client)
    client.unsubscribe = (id: string) => {
      unsubscribed.push(id)
      return unsubscribe(id)
    }
    // One connection; once the test closes it, the window waits for another that never comes.
    let connections = 0
    const api = createWindowApi(ModuleId.Storage, () =>
      connections++ === 0 ? Promise.resolve(client) : new Promise(() => {}),
    )
    await new Promise<void>((resolve) => api.onConnection((state) => state === 'open' && resolve()))
    const id = await api.subscribe({ types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {})
    const done = api.unsubscribe(id)
    // Synchronously: no microtask ran between the call and the client's unsubscribe.
    expect(unsubscribed).toHaveLength(1)
    await done
    await expect(api.unsubscribe(id)).rejects.toMatchObject({ kind: 'SubscriptionNotFound' })
  })

  it('unsubscribes while its connection is down: on the next, the hub ends what it parked as unsubscribed', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 0 }, { reconnectGraceMs: 60_000 })
    const { page, drop, reconnect } = windowReconnectingWhenTold(hub)
    const handled: string[] = []
    const reliable = await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.Reliable(), (m) => {
      handled.push(m.id)
    })
    const bestEffort = await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {})
    await drop()
    const held = await bus.publish(
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
    )
    const unsubscribed = Promise.all([page.unsubscribe(reliable), page.unsubscribe(bestEffort)])
    reconnect()
    await unsubscribed
    // Ended at once, as in process: what it held is dead-lettered as unsubscribed, not 60 s later
    // as a subscriber that never came back.
    await waitFor(() => bus.deadLetters.list().length === 1)
    expect(bus.deadLetters.list()[0]).toMatchObject({ reason: 'Unsubscribed', message: { id: held } })
    expect((await bus.metrics()).subscriptions.filter((s) => s.module === 'figurine')).toEqual([])
    expect(handled).toEqual([])
  })

  it('takes back, reconnecting, each Reliable subscription it had: one of the same filter and mode unsubscribed meanwhile ends at once', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const { page, drop, reconnect } = windowReconnectingWhenTold(hub)
    const handled: string[] = []
    const first = await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.Reliable(), () => {})
    await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.Reliable(), (m) => {
      handled.push(m.id)
    })
    const [kept] = (await bus.metrics()).subscriptions.filter((s) => s.module === 'figurine').slice(1)
    await drop()
    const held = await bus.publish(
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
    )
    const unsubscribed = page.unsubscribe(first)
    reconnect()
    await unsubscribed
    // The second has its own back, with what it held; the first's copy is dead-lettered as
    // unsubscribed now, not as a subscriber that never came back when the grace ends.
    await waitFor(() => handled.includes(held))
    await waitFor(() => bus.deadLetters.list().length === 1)
    expect(bus.deadLetters.list()[0]).toMatchObject({ reason: 'Unsubscribed', message: { id: held } })
    const left = (await bus.metrics()).subscriptions.filter((s) => s.module === 'figurine')
    expect(left.map(({ id, parked }) => ({ id, parked }))).toEqual([{ id: kept?.id, parked: false }])
  })

  it('unsubscribes what it was making again on a new connection as it was unsubscribed, by the id it was made with', async () => {
    // No grace: the hub ended the subscription with the connection, so the next one makes a new one.
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 0 })
    const module = 'figurine'
    let unsubscribeNow = () => {}
    // The page unsubscribes as the window has just asked the hub, on its second connection, for
    // its subscription again.
    const askingAgain = (client: BusClient, made: number) => {
      if (made === 1) return
      const resume = client[resuming].bind(client)
      client[resuming] = (previousId) => {
        const subscriber = resume(previousId)
        return {
          ...subscriber,
          subscribe: (...args: Parameters<BusClient['subscribe']>) => {
            const made = subscriber.subscribe(...args)
            unsubscribeNow()
            return made
          },
        }
      }
    }
    const permissions = { publish: [], subscribe: ['RawEvent'] }
    const { page, connections } = windowOn(hub, module, permissions, async () => {}, askingAgain)
    const id = await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.Reliable(), () => {})
    let unsubscribed: Promise<void> | undefined
    unsubscribeNow = () => {
      unsubscribed = page.unsubscribe(id)
    }
    connections[0]?.close()
    await waitFor(() => unsubscribed !== undefined)
    await unsubscribed
    // The one made on the new connection, not only the one the hub had ended already.
    expect((await bus.metrics()).subscriptions.filter((s) => s.module === module)).toEqual([])
  })

  it('subscribes on the next connection when its connection drops before the answer, taking back what the hub parked', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 60_000 })
    const page = windowLosingItsFirstAnswer(hub, 'res', 'figurine', { publish: [], subscribe: ['RawEvent'] })
    const handled: string[] = []
    // The hub made it and parked it with the connection; the window never had its id.
    await page.subscribe({ types: ['RawEvent'] }, DeliveryMode.Reliable(), (m) => {
      handled.push(m.id)
    })
    const sent = await bus.publish(
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
    )
    await waitFor(() => handled.includes(sent))
    // One subscription, live: none left parked to end with the grace, its backlog dead-lettered.
    const made = (await bus.metrics()).subscriptions.filter((s) => s.module === 'figurine')
    expect(made.map(({ parked }) => parked)).toEqual([false])
  })

  it('publishes again what a dropped connection left unanswered, and the hub takes it once', async () => {
    const { bus, hub } = await startHub()
    const received: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      received.push(m.id)
    })
    const page = windowLosingItsFirstAnswer(hub)
    const states: string[] = []
    page.onConnection((state) => states.push(state))
    const taken = BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    // The hub took it; the answer was lost with the connection. Sent again once the window is back.
    expect(await page.publish(taken)).toBe(taken.id)
    expect(states).toContain('reconnecting')
    const after = await page.publish('RawEvent', rawEvent())
    await waitFor(() => received.includes(after))
    expect(received).toEqual([taken.id, after])
    expect((await bus.metrics()).messagesPublished).toBe(2)
  })

  it('publishes on the next connection what never reached the hub before its connection dropped', async () => {
    const { bus, hub } = await startHub()
    const received: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      received.push(m.id)
    })
    const { page, connections } = windowOn(hub, ModuleId.DataCapture)
    await new Promise<void>((resolve) => page.onConnection((state) => state === 'open' && resolve()))
    const publishing = page.publish('RawEvent', rawEvent())
    connections[0]?.close() // before the window's unit leaves, at the end of this tick
    const id = await publishing
    await waitFor(() => received.length === 1)
    expect(received).toEqual([id])
    expect(connections).toHaveLength(2)
  })

  it('publishes with the options given, none for null, and refuses options it cannot read', async () => {
    const { bus, hub } = await startHub()
    const received: Envelope[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.all(), DeliveryMode.BestEffort, (message) => {
      received.push(message)
    })
    const { page } = windowOn(hub, 'app-window')
    const data = rawEvent()
    const correlationId = BusMessage.create('x', { type: 'RawEvent', data }).id
    await page.publish('RawEvent', data, { priority: MessagePriority.High, correlationId })
    await page.publish('RawEvent', data, null as never)
    await waitFor(() => received.length === 2)
    expect(received.map(({ priority, correlationId }) => ({ priority, correlationId }))).toEqual([
      { priority: MessagePriority.High, correlationId },
      { priority: MessagePriority.Normal, correlationId: undefined },
    ])
    const refusals = await Promise.all(
      [5, 'high', { prority: 3 }, { priority: 9 }, { correlationId: '' }].map((options) =>
        page.publish('RawEvent', data, options as never).catch((error: unknown) => error),
      ),
    )
    for (const refusal of refusals) {
      expect(refusal).not.toBeInstanceOf(Error)
      expect(refusal).toMatchObject({
        kind: 'MessageRejected',
        reason: 'publish options are { priority?: 0 to 3, correlationId?: string }',
        message: expect.stringContaining('MessageRejected: publish options are'),
      })
    }
    expect(refusals.map((refusal) => (refusal as { issues: { path: unknown }[] }).issues[0]?.path)).toEqual([
      [],
      [],
      [],
      ['priority'],
      ['correlationId'],
    ])
    expect((refusals[2] as { message: string }).message).toContain('prority')
    await page.publish('RawEvent', data)
    await waitFor(() => received.length === 3)
    expect((await bus.metrics()).messagesPublished).toBe(3)
  })

  it('labels its subscriptions as the page says, and those of its requests and answers, at the hub', async () => {
    const { bus, hub } = await startHub()
    const { page } = windowOn(hub, 'app-window', {
      publish: ['InterventionRequest', 'InterventionResponse'],
      subscribe: ['RewardEvent', 'InterventionRequest', 'InterventionResponse'],
    })
    await page.subscribe({ types: ['RewardEvent'] }, DeliveryMode.BestEffort, () => {}, {
      label: 'counts rewards',
    })
    await page.respond('InterventionRequest', { replyType: 'InterventionResponse' }, (request) => ({
      requestId: request.payload.data.requestId,
      responseText: 'Stretch!',
      animationCues: [],
    }))
    await page.request('InterventionRequest', validData.InterventionRequest(), {
      replyType: 'InterventionResponse',
    })
    const labels = (await bus.metrics()).subscriptions.map(({ filter, label }) => [filter, label])
    expect(labels).toEqual([
      ['types=[RewardEvent] sources=*', 'counts rewards'],
      ['types=[InterventionRequest] sources=*', 'answers with InterventionResponse'],
      ['types=[InterventionResponse] sources=*', 'replies to its requests'],
    ])
    const refused = await page
      .subscribe({ types: ['RewardEvent'] }, DeliveryMode.BestEffort, () => {}, { label: '' })
      .catch((error: unknown) => error)
    expect(refused).not.toBeInstanceOf(Error)
    expect(refused).toMatchObject({ kind: 'Configuration', message: expect.stringContaining('label') })
    expect((await bus.metrics()).subscriptions).toHaveLength(3)
  })

  it('tells every connection listener, even after one throws', async () => {
    const { hub } = await startHub()
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    afterThisTest(() => reported.mockRestore())
    const { page } = windowOn(hub, 'app-window')
    const states: string[] = []
    page.onConnection((state) => {
      if (state === 'open') throw new Error('a bug in the page')
    })
    page.onConnection((state) => states.push(state))
    await waitFor(() => states.includes('open'))
    expect(states).toEqual(['connecting', 'open'])
    expect(reported).toHaveBeenCalledWith('skelly-bus: a connection listener threw: Error: a bug in the page')
  })

  it('tells a listener nothing more once it is removed', async () => {
    const { hub } = await startHub()
    const { page, connections } = windowOn(hub, 'app-window')
    const kept: string[] = []
    const removed: string[] = []
    page.onConnection((state) => kept.push(state))
    const off = page.onConnection((state) => removed.push(state))
    await waitFor(() => kept.includes('open'))
    off()
    connections[0]?.close()
    await waitFor(() => kept.filter((state) => state === 'open').length === 2)
    expect(kept).toEqual(['connecting', 'open', 'reconnecting', 'open'])
    expect(removed).toEqual(['connecting', 'open'])
  })
})

describe('a window’s streams', () => {
  it('tells each listener each snapshot and entry once, and stops only the stream whose last listener went', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 })
    const { page } = windowOn(hub, 'inspector', { publish: [], subscribe: [], inspect: true })
    const seen = { snapshots: [] as number[], entries: [] as string[] }
    /** Whether the tail shows what is published now (published again while it does not). */
    const tailFlows = async () => {
      const before = seen.entries.length
      await bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
      await new Promise((resolve) => setTimeout(resolve, 50))
      return seen.entries.length > before
    }
    const metricsFlow = async () => {
      const before = seen.snapshots.length
      await new Promise((resolve) => setTimeout(resolve, 100)) // five metrics intervals
      return seen.snapshots.length > before
    }
    const onSnapshot = (snapshot: { collectedAt: Date }) =>
      seen.snapshots.push(snapshot.collectedAt.getTime())
    // Both listeners come as the page loads, before the connection is open: each stream was opened
    // twice, once as the connection opened and once for the first listener, and told everything twice.
    const stopMetrics = page.onMetrics(onSnapshot)
    const stopTail = page.onTail((entries) => {
      for (const entry of entries) seen.entries.push(entry.message.id)
    })
    await waitFor(tailFlows)
    await waitFor(metricsFlow)

    // Its last listener gone, the metrics stream stops, and the tail flows on: the one list of
    // stops both streams shared stopped them both.
    stopMetrics()
    await waitFor(tailFlows)

    page.onMetrics(onSnapshot) // a listener again: its stream again
    await waitFor(metricsFlow)
    stopTail()
    await waitFor(metricsFlow)
    expect(new Set(seen.entries).size).toBe(seen.entries.length)
    expect(new Set(seen.snapshots).size).toBe(seen.snapshots.length)
  })

  it('gives each of a window’s listeners a snapshot and a tail batch of its own, as the context bridge does', async () => {
    const { bus, hub } = await startHub({ metricsIntervalMs: 20 })
    const { page } = windowOn(hub, 'inspector', { publish: [], subscribe: [], inspect: true })
    const seen = { published: [] as number[], eventTypes: [] as string[] }
    page.onMetrics((snapshot) => {
      snapshot.messagesPublished = -1
    })
    page.onMetrics((snapshot) => seen.published.push(snapshot.messagesPublished))
    page.onTail((entries) => {
      for (const entry of entries) (entry.message.payload.data as { eventType: string }).eventType = 'changed'
    })
    page.onTail((entries) => {
      for (const entry of entries)
        seen.eventTypes.push((entry.message.payload.data as { eventType: string }).eventType)
    })
    await waitFor(() => seen.published.length > 0) // both streams are open
    await bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    await waitFor(() => seen.eventTypes.length === 1)
    expect(seen.eventTypes).toEqual(['keystroke'])
    expect(seen.published.every((published) => published >= 0)).toBe(true)
  })

  it('lets a window that may not inspect go of its listeners, and says why', async () => {
    const { hub } = await startHub()
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    afterThisTest(() => reported.mockRestore())
    const { page } = windowOn(hub, 'app-window')
    page.onMetrics(() => {})
    await waitFor(() => reported.mock.calls.length > 0)
    expect(reported).toHaveBeenCalledWith(
      expect.stringMatching(/^skelly-bus: the metrics stream was refused: .*Unauthorized/),
    )
  })
})

describe('a window that answers requests', () => {
  /** A window granted to answer InterventionRequests with InterventionResponses. */
  const answeringWindow = (hub: Hub, beforeConnecting?: (made: number) => Promise<void>) =>
    windowOn(
      hub,
      'figurine',
      { publish: ['InterventionResponse'], subscribe: ['InterventionRequest'] },
      beforeConnecting,
    )

  const tip = () =>
    BusMessage.create(
      ModuleId.AiIntegration,
      MessagePayload.InterventionRequest(validData.InterventionRequest()),
    )
  const REPLY = { replyType: 'InterventionResponse' } as const
  const answer = (request: BusMessage<'InterventionRequest'>) => ({
    requestId: request.payload.data.requestId,
    responseText: 'Take a breath.',
    animationCues: ['wave'],
  })

  it('answers the main process’s requests, again after a reconnect, and a request sent while it was away', async () => {
    const { bus, hub } = await startHub()
    // The window's reconnect waits until the test lets it.
    const comeBack = deferred()
    const { page, connections } = answeringWindow(hub, (made) =>
      made === 1 ? comeBack.promise : Promise.resolve(),
    )
    const id = await page.respond('InterventionRequest', REPLY, answer)
    const request = tip()
    const reply = await bus.request(request, REPLY)
    expect(reply).toMatchObject({
      source: 'figurine',
      correlationId: request.id,
      payload: { type: 'InterventionResponse', data: answer(request) },
    })
    const answering = async () =>
      (await bus.metrics()).subscriptions.filter((subscription) => subscription.module === 'figurine')
    const [before] = await answering()
    // The connection drops; once the hub has parked the window's subscription, a request is sent:
    // it waits for the window (Reliable) and is answered once the window is back.
    connections[0]?.close()
    await waitFor(async () => (await answering())[0]?.parked === true)
    const whileAway = tip()
    const late = bus.request(whileAway, { ...REPLY, timeoutMs: 10_000 })
    await waitFor(async () => (await answering())[0]?.queueDepth === 1)
    comeBack.resolve()
    expect((await late).correlationId).toBe(whileAway.id)
    expect(connections).toHaveLength(2)
    // The same subscription, resumed, which unsubscribe ends.
    expect((await answering()).map(({ id, parked }) => ({ id, parked }))).toEqual([
      { id: before?.id, parked: false },
    ])
    // Unsubscribed, nothing takes a request any more: it fails at once, not after its minute.
    await page.unsubscribe(id)
    await expect(bus.request(tip(), { ...REPLY, timeoutMs: 60_000 })).rejects.toMatchObject({
      kind: 'SubscriberUnavailable',
    })
  })

  it('fails a request its answer cannot reply to, with the reason, as respond does anywhere', async () => {
    const { bus, hub } = await startHub({
      maxRetryAttempts: 1,
      retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
    })
    const { page } = answeringWindow(hub)
    await page.respond('InterventionRequest', REPLY, (request) =>
      request.payload.data.urgency === 'high'
        ? { ...answer(request), animationCues: 'wave' as never } // the hub refuses this reply
        : Promise.reject(new Error('the page could not answer')),
    )
    const urgent = BusMessage.create(
      ModuleId.AiIntegration,
      MessagePayload.InterventionRequest({ ...validData.InterventionRequest(), urgency: 'high' }),
    )
    for (const request of [urgent, tip()])
      await expect(bus.request(request, { ...REPLY, timeoutMs: 300 })).rejects.toMatchObject({
        kind: 'DeliveryTimeout',
      })
    await expect.poll(async () => (await bus.deadLetters.list()).length).toBe(2)
    const reasons = (await bus.deadLetters.list()).map((entry) => entry.lastError)
    expect(reasons).toEqual([
      expect.stringContaining('MessageRejected: InterventionResponse does not match its schema'),
      expect.stringContaining('the page could not answer'),
    ])
    expect((await bus.metrics()).types.InterventionResponse?.published ?? 0).toBe(0)
  })

  it('refuses options, an answer or types it cannot use, as plain errors, before subscribing anything', async () => {
    const { bus, hub } = await startHub()
    const { page } = answeringWindow(hub)
    const refusals = await Promise.all(
      [
        page.respond('InterventionRequest', { replyTyp: 'InterventionResponse' } as never, answer),
        page.respond('InterventionRequest', REPLY, 'answer' as never),
        page.respond('InterventionRequest', { replyType: 'RewardEvent' }, () => validData.RewardEvent()),
        page.respond('StateChange', REPLY, () => answer(tip())),
      ].map((refused) => refused.catch((error: unknown) => error)),
    )
    for (const refusal of refusals) expect(refusal).not.toBeInstanceOf(Error)
    expect(refusals).toEqual([
      expect.objectContaining({ kind: 'Configuration', message: expect.stringContaining('"replyTyp"') }),
      expect.objectContaining({
        kind: 'Configuration',
        message: expect.stringContaining('the answer must be a function'),
      }),
      expect.objectContaining({ kind: 'Unauthorized', action: 'publish', type: 'RewardEvent' }),
      expect.objectContaining({ kind: 'Unauthorized', action: 'subscribe' }),
    ])
    expect((await bus.metrics()).subscriptions.filter((s) => s.module === 'figurine')).toEqual([])
  })
})

describe('a window of an application with types of its own', () => {
  const catalog = {
    'app.Ping': z.object({ sequence: z.number().int() }),
    'app.Pong': z.object({ echoed: z.number().int() }),
  }

  it('publishes, subscribes and requests them as the hub’s catalog has them, which validates them', async () => {
    const { bus, hub } = await startHub({ catalog })
    await bus.subscribe(
      'ponger',
      MessageFilter.types(['app.Ping']),
      DeliveryMode.BestEffort,
      async (ping) => {
        await bus.publish(
          BusMessage.replyTo(ping, 'ponger', {
            type: 'app.Pong',
            data: { echoed: ping.payload.data.sequence },
          }),
        )
      },
    )
    const { page: api } = windowOn(hub, 'app-window', { publish: ['app.Ping'], subscribe: ['app.Pong'] })
    // What the page gets from skellyBusWith(catalog): the same object, typed by both catalogs.
    vi.stubGlobal('window', { skellyBus: api })
    afterThisTest(() => {
      vi.unstubAllGlobals()
    })
    const page = skellyBusWith(catalog)
    expect(page).toBe(api)
    const pong = await page.request('app.Ping', { sequence: 4 }, { replyType: 'app.Pong' })
    expect(pong.payload.data.echoed).toBe(4)
    // The window does not know the schemas; the hub refuses what they refuse.
    await expect(page.publish('app.Ping', { sequence: 'four' } as never)).rejects.toMatchObject({
      kind: 'MessageRejected',
      issues: [expect.objectContaining({ path: ['payload', 'data', 'sequence'] })],
    })
  })
})

describe('a window call that fails with no bus error', () => {
  it('tries to connect again, waiting twice as long each time up to 5 s, until it connects', async () => {
    useFakeClock()
    const attempts: number[] = []
    const start = Date.now()
    const client = { module: 'app-window', onClose: () => {}, isOpen: true } as unknown as BusClient
    const page = createWindowApi('app-window', async () => {
      attempts.push(Date.now() - start)
      if (attempts.length < 8) throw new Error('connect ECONNREFUSED 127.0.0.1:4780')
      return client
    })
    const states: string[] = []
    page.onConnection((state) => states.push(state))
    await advance(30_000)
    expect(attempts).toEqual([0, 250, 750, 1750, 3750, 7750, 12_750, 17_750])
    expect(states).toEqual(['connecting', 'open'])
  })

  it('gives up at once, closed, when the hub refuses who it is: every call rejects with the refusal', async () => {
    useFakeClock()
    let attempts = 0
    const refusal = EventBusError.of('Unauthorized', { module: 'app-window', action: 'attach' })
    const page = createWindowApi('app-window', async () => {
      attempts++
      throw refusal
    })
    const states: string[] = []
    page.onConnection((state) => states.push(state))
    const published = page.publish('RawEvent', rawEvent()).catch((error: unknown) => error)
    await advance(30_000)
    expect(attempts).toBe(1)
    expect(states).toEqual(['connecting', 'closed'])
    expect(await published).toEqual({ ...refusal.toData(), message: refusal.message })
  })

  it('rejects as Disconnected, its message written as a bus error’s is', async () => {
    // A client whose calls fail as a broken transport's might: with a plain Error.
    const broken = {
      module: 'app-window',
      onClose: () => {},
      publish: () => Promise.reject(new Error('socket hang up')),
    } as unknown as BusClient
    const page = createWindowApi('app-window', async () => broken)
    const refused = await page.publish('RawEvent', rawEvent()).catch((error: unknown) => error)
    expect(refused).not.toBeInstanceOf(Error)
    expect(refused).toEqual({
      kind: 'Disconnected',
      reason: 'socket hang up',
      message: 'Disconnected: the connection to the hub is closed (socket hang up)',
    })
  })
})
