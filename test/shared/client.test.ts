/**
 * The endpoint client against a fake hub over a real MessageChannel: this test plays the hub, frame
 * by frame, so each rule of the client holds on its own and in milliseconds (the hub tests hold the
 * whole exchange, with a real hub, where a client that asks the wrong way is often still served).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BusMessage, DeliveryMode, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { connectBus, connectWindowBus, publishAgain, resuming } from '../../src/shared/client.js'
import { codecFor } from '../../src/shared/codec.js'
import { DRAIN_MS } from '../../src/shared/direct-producer.js'
import type { EventBusError } from '../../src/shared/errors.js'
import { MessageFilter } from '../../src/shared/filter.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import { publishRequest } from '../../src/shared/requests.js'
import { PROTOCOL_VERSION, type TailEntry } from '../../src/shared/wire.js'
import { deferred, flushMicrotasks, rawMessage, useFakeClock, validData, waitFor } from '../helpers.js'
import { fakeChannelLimits } from '../hub/consumer-fakes.js'

type RawFrame = { t: string; [key: string]: unknown }

const MODULE = ModuleId.DataCapture
const grant = { publish: ['RawEvent'], subscribe: ['RawEvent'] }
const welcome = {
  t: 'welcome',
  v: PROTOCOL_VERSION,
  module: MODULE,
  permissions: grant,
  workers: 4,
  heartbeatMs: 0,
}
const decode = codecFor('clone', true).decode

const cleanups: (() => void)[] = []
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/** Records the frames that arrive on `port`, decoded, and whether it closed; closes it after the test. */
function recordFrames(port: MessagePort) {
  const received: RawFrame[] = []
  const state = { closed: false }
  port.on('message', (unit: unknown) => received.push(...(decode(unit) as RawFrame[])))
  port.on('close', () => {
    state.closed = true
  })
  cleanups.push(() => port.close())
  return { received, isClosed: () => state.closed }
}

/** The hub's end of a fresh channel: what the client sent, how to answer, whether it closed. */
function fakeHub() {
  const { port1: hub, port2: port } = new MessageChannel()
  const { received, isClosed } = recordFrames(hub)
  const send = (...frames: object[]) => hub.postMessage(frames)
  /** Sends `frame` with `port` transferred, as the hub sends a route's end. */
  const sendWithPort = (frame: object, port: MessagePort) =>
    hub.postMessage({ skellyTransfer: true, data: [frame], ports: [port] }, [port])
  /** The frames of kind `t` the client sent so far. */
  const sent = (t: string) => received.filter((frame) => frame.t === t)
  /** Waits for the client's `n`th frame of kind `t` (1 by default) and returns its request id. */
  const ridOf = async (t: string, n = 1) => {
    await waitFor(() => sent(t).length >= n)
    return sent(t)[n - 1]?.rid as number
  }
  /** Answers the client's latest request of kind `t` with `ok`. */
  const answer = async (t: string, ok: unknown = null) => {
    const rid = await ridOf(t, sent(t).length || 1)
    send({ t: 'res', rid, ok })
  }
  return {
    port,
    received,
    sent,
    send,
    sendWithPort,
    ridOf,
    answer,
    isClosed,
    close: () => hub.close(),
  }
}

/** A client connected to a fake hub that welcomed it as DataCapture. */
async function connected(welcomeChanges: object = {}) {
  const hub = fakeHub()
  const connecting = connectBus(hub.port)
  hub.send({ ...welcome, ...welcomeChanges })
  const client = await connecting
  cleanups.push(() => void client.close())
  return { hub, client }
}

/**
 * Subscribes (BestEffort, answered `sid-1`) with a handler that records each message's id in
 * `started` and settles when `gate` does.
 */
async function gatedSubscription({ hub, client }: Awaited<ReturnType<typeof connected>>) {
  const gate = deferred()
  const started: string[] = []
  const subscribing = client.subscribe(MODULE, {}, DeliveryMode.BestEffort, (message) => {
    started.push(message.id)
    return gate.promise
  })
  await hub.answer('sub', 'sid-1')
  await subscribing
  return { gate, started }
}

async function rejectionOf(promise: Promise<unknown>): Promise<EventBusError> {
  try {
    await promise
  } catch (error) {
    return error as EventBusError
  }
  throw new Error('expected a rejection')
}

describe('the handshake', () => {
  it('says hello with what this client reads, the identity it expects, and nothing it does not do', async () => {
    const plain = fakeHub()
    const named = fakeHub()
    const window = fakeHub()
    // Never welcomed: each ends Disconnected once its hub's port closes after the test.
    for (const connecting of [
      connectBus(plain.port, null as never), // no options, as none
      connectBus(named.port, { module: MODULE }),
      connectWindowBus(window.port),
    ])
      connecting.catch(() => {})
    const hello = { t: 'hello', v: PROTOCOL_VERSION, batch: true, slow: true, shapes: true }
    await waitFor(() => plain.received.length + named.received.length + window.received.length === 3)
    expect(plain.received).toEqual([hello])
    expect(named.received).toEqual([{ ...hello, module: MODULE }])
    // Only a window sends again what a dropped connection left unanswered.
    expect(window.received).toEqual([{ ...hello, again: true }])
  })

  it('takes the identity, permissions and limits the welcome gives', async () => {
    const { hub, client } = await connected()
    expect(client.module).toBe(MODULE)
    expect(client.permissions).toEqual(grant)
    expect(client.isOpen).toBe(true)
    expect(hub.isClosed()).toBe(false)
  })

  it('gives up after 10 s without a welcome by default, and closes the port', async () => {
    useFakeClock()
    const hub = fakeHub()
    const connecting = rejectionOf(connectBus(hub.port))
    await vi.advanceTimersByTimeAsync(9_999)
    expect(hub.isClosed()).toBe(false)
    await vi.advanceTimersByTimeAsync(2)
    expect(await connecting).toMatchObject({
      kind: 'Disconnected',
      reason: 'no welcome from the hub within 10000 ms',
    })
    vi.useRealTimers()
    await waitFor(() => hub.isClosed())
  })

  it('waits as long as connectTimeoutMs says', async () => {
    useFakeClock()
    const connecting = rejectionOf(connectBus(fakeHub().port, { connectTimeoutMs: 50 }))
    await vi.advanceTimersByTimeAsync(52)
    expect(await connecting).toMatchObject({
      kind: 'Disconnected',
      reason: 'no welcome from the hub within 50 ms',
    })
  })

  it('fails at once, not at its timeout, when the hub’s port closes before the welcome', async () => {
    const hub = fakeHub()
    const connecting = rejectionOf(connectBus(hub.port, { connectTimeoutMs: 60_000 }))
    await waitFor(() => hub.received.length === 1)
    hub.close()
    expect(await connecting).toMatchObject({ kind: 'Disconnected', reason: 'the port closed' })
  })

  it('runs handlers with the welcome’s workers and slow threshold, and keeps the heartbeat it asks for', async () => {
    const connection = await connected({ workers: 2, heartbeatMs: 20, slowMs: 10 })
    const { hub } = connection
    await waitFor(() => hub.sent('ping').length > 0)
    const { gate, started } = await gatedSubscription(connection)
    hub.send({
      t: 'dlvs',
      sid: 'sid-1',
      id: 1,
      msgs: [rawMessage(), rawMessage(), rawMessage()],
      timeoutMs: 5_000,
    })
    await waitFor(() => started.length === 2)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(started).toHaveLength(2) // two workers: the third waits for one of them
    gate.resolve()
    await waitFor(() => started.length === 3)
    // The first two ran past the welcome's slow threshold (10 ms): their acks say so.
    const acked = (list: 'ids' | 'slow') =>
      hub.sent('ack').flatMap((ack) => (ack[list] as number[] | undefined) ?? [])
    await waitFor(() => acked('ids').length + acked('slow').length === 3)
    expect(acked('slow')).toEqual([1, 2])
    expect(acked('ids')).toEqual([3])
  })

  it('stops waiting once welcomed, or refused: no timer is left to close the connection later', async () => {
    const hub = fakeHub()
    const connecting = connectBus(hub.port, { connectTimeoutMs: 30 })
    hub.send(welcome)
    const client = await connecting
    cleanups.push(() => void client.close())
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(client.isOpen).toBe(true)

    const refusing = fakeHub()
    const refused = rejectionOf(connectBus(refusing.port, { connectTimeoutMs: 30 }))
    refusing.send({
      t: 'err',
      error: {
        data: { kind: 'Unauthorized', module: 'x', action: 'attach' },
        message: 'Unauthorized: no such port',
      },
    })
    expect(await refused).toMatchObject({ kind: 'Unauthorized', message: 'Unauthorized: no such port' })
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(refusing.isClosed()).toBe(false)
  })

  it('refuses a welcome for another identity than the one expected, and closes the port', async () => {
    const hub = fakeHub()
    const connecting = rejectionOf(connectBus(hub.port, { module: ModuleId.Storage }))
    hub.send(welcome)
    expect(await connecting).toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.Storage,
      action: 'attach',
    })
    await waitFor(() => hub.isClosed())
  })
})

describe('requests to the hub', () => {
  it('resolves a range of publishes with their own ids, and a rejection with the hub’s own words', async () => {
    const { hub, client } = await connected()
    const messages = [rawMessage(), rawMessage(), rawMessage()]
    const publishes = messages.map((message) => client.publish(message))
    const first = await hub.ridOf('pubs')
    hub.send({ t: 'okr', from: first, to: first + 1 })
    hub.send({
      t: 'rej',
      rid: first + 2,
      error: {
        data: { kind: 'QueueFull', currentSize: 1, maxSize: 1 },
        message: 'QueueFull: in the hub’s words',
      },
    })
    expect(await Promise.all(publishes.slice(0, 2))).toEqual(messages.slice(0, 2).map(({ id }) => id))
    expect(await rejectionOf(publishes[2] as Promise<string>)).toMatchObject({
      kind: 'QueueFull',
      message: 'QueueFull: in the hub’s words',
    })
  })

  it('publishes again marked as such, resolving with the message’s id', async () => {
    const { hub, client } = await connected()
    const message = rawMessage()
    const again = client[publishAgain](message)
    const rid = await hub.ridOf('pubs')
    expect(hub.sent('pubs')[0]).toMatchObject({ again: true })
    hub.send({ t: 'okr', from: rid, to: rid })
    expect(await again).toBe(message.id)
  })

  it('refuses what is no message, or cannot be read, before asking the hub', async () => {
    const { hub, client } = await connected()
    expect(await rejectionOf(client.publish(null as never))).toMatchObject({
      kind: 'MessageRejected',
      reason: 'publish takes a message (BusMessage.create(...)), not null',
    })
    const unreadable = new Proxy(rawMessage(), {
      get() {
        throw new Error('trap')
      },
    })
    expect(await rejectionOf(client.publish(unreadable))).toMatchObject({
      kind: 'MessageRejected',
      reason: 'the message could not be read: Error: trap',
    })
    await flushMicrotasks()
    expect(hub.sent('pubs')).toEqual([])
  })

  it('refuses a publish that cannot leave for the hub, alone: the others of its batch still go', async () => {
    const { hub, client } = await connected()
    const good = rawMessage()
    const unclonable = { ...rawMessage(), payload: { type: 'RawEvent', data: { fn: () => {} } } }
    const publishes = [client.publish(good), client.publish(unclonable as never)]
    expect(await rejectionOf(publishes[1] as Promise<string>)).toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/^the 'pubs' frame could not be sent to the hub: DataCloneError/),
    })
    const rid = await hub.ridOf('pubs')
    expect(hub.sent('pubs')).toEqual([expect.objectContaining({ msgs: [good] })])
    hub.send({ t: 'okr', from: rid, to: rid })
    expect(await publishes[0]).toBe(good.id)
  })
})

describe('subscriptions', () => {
  it('asks the hub, resuming, for the subscription it had back: a subscribe and a respond alike', async () => {
    const { hub, client } = await connected()
    const subscribing = client[resuming]('sid-7').subscribe(MODULE, {}, DeliveryMode.Reliable(), () => {})
    await hub.answer('sub', 'sid-7')
    expect(await subscribing).toBe('sid-7')
    const answering = client[resuming]('sid-8').respond(
      MODULE,
      'RawEvent',
      { replyType: 'RawEvent' },
      (request) => request.payload.data,
    )
    await hub.ridOf('sub', 2)
    await hub.answer('sub', 'sid-8')
    expect(await answering).toBe('sid-8')
    // Subscribing of its own, it names none.
    void client.subscribe(MODULE, {}, DeliveryMode.Reliable(), () => {})
    await hub.ridOf('sub', 3)
    expect(hub.sent('sub').map((frame) => frame.resumes)).toEqual(['sid-7', 'sid-8', undefined])
    expect(hub.sent('sub')[1]).toMatchObject({
      filter: { types: ['RawEvent'] },
      label: 'answers with RawEvent',
    })
  })

  it('asks the hub with the plain filter, mode and label, and runs the predicate here', async () => {
    const { hub, client } = await connected()
    const ran: string[] = []
    const filter = MessageFilter.types(['RawEvent']).withPredicate(
      (message) => message.payload.data.windowTitle !== 'skip',
    )
    const subscribing = client.subscribe(
      MODULE,
      filter,
      DeliveryMode.Reliable({ timeoutMs: 500 }),
      (message) => {
        ran.push(message.payload.data.windowTitle ?? '')
      },
      { label: 'stores keystrokes' },
    )
    await hub.ridOf('sub')
    expect(hub.sent('sub')).toEqual([
      {
        t: 'sub',
        rid: 1,
        module: MODULE,
        filter: filter.toPlain(),
        mode: DeliveryMode.Reliable({ timeoutMs: 500 }),
        label: 'stores keystrokes',
      },
    ])
    await hub.answer('sub', 'sid-1')
    expect(await subscribing).toBe('sid-1')
    const skipped = rawMessage(undefined, { windowTitle: 'skip' })
    const kept = rawMessage(undefined, { windowTitle: 'Editor' })
    hub.send({ t: 'dlvs', sid: 'sid-1', id: 1, msgs: [skipped, kept], timeoutMs: 500 })
    await waitFor(() => hub.sent('ack').length > 0)
    expect(ran).toEqual(['Editor'])
    // The predicate's refusal is a success as far as the hub is concerned.
    expect(hub.sent('ack').flatMap((ack) => ack.ids as number[])).toEqual([1, 2])
  })

  it('refuses another module’s subscription, and an id that is no string, without asking the hub', async () => {
    const { hub, client } = await connected()
    expect(
      await rejectionOf(client.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {})),
    ).toMatchObject({
      kind: 'Unauthorized',
      module: MODULE,
      action: 'subscribe',
    })
    expect(await rejectionOf(client.unsubscribe(7 as never))).toMatchObject({
      kind: 'SubscriptionNotFound',
      subscriptionId: '7',
    })
    await flushMicrotasks()
    expect(hub.received.map(({ t }) => t)).toEqual(['hello'])
  })

  it('ends a subscription here at once on unsubscribe, before the hub answers', async () => {
    const connection = await connected()
    const { hub, client } = connection
    const { started: ran } = await gatedSubscription(connection)
    const unsubscribing = client.unsubscribe('sid-1')
    hub.send({ t: 'dlv', sid: 'sid-1', id: 1, msg: rawMessage(), timeoutMs: 500 })
    await waitFor(() => hub.sent('nack').length > 0)
    expect(ran).toEqual([])
    expect(hub.sent('unsub')).toEqual([{ t: 'unsub', rid: 2, sid: 'sid-1' }])
    await hub.answer('unsub')
    await unsubscribing
    expect(hub.sent('nack')).toMatchObject([{ id: 1, gone: true }])
  })

  it('runs none of a subscription’s deliveries once the hub says the bus ended it', async () => {
    const connection = await connected()
    const { hub } = connection
    const { started: ran } = await gatedSubscription(connection)
    hub.send({ t: 'ended', sid: 'sid-1', reason: 'the bus shut down' })
    hub.send({ t: 'dlv', sid: 'sid-1', id: 1, msg: rawMessage(), timeoutMs: 500 })
    await waitFor(() => hub.sent('nack').length > 0)
    expect(ran).toEqual([])
  })
})

describe('answering requests', () => {
  it('refuses to answer with a reply type this endpoint may not publish, without subscribing', async () => {
    const { hub, client } = await connected()
    const answering = client.respond(
      MODULE,
      'InterventionRequest',
      { replyType: 'InterventionResponse' },
      (request) => ({ requestId: request.id, responseText: 'never sent', animationCues: [] }),
    )
    expect(await rejectionOf(answering)).toMatchObject({
      kind: 'Unauthorized',
      module: MODULE,
      action: 'publish',
      type: 'InterventionResponse',
    })
    await flushMicrotasks()
    expect(hub.sent('sub')).toEqual([])
  })
})

/** The hub refuses the client's first stream request: this endpoint may not inspect. */
async function refuseStream(hub: ReturnType<typeof fakeHub>) {
  const rid = await hub.ridOf('stream')
  hub.send({
    t: 'rej',
    rid,
    error: { data: { kind: 'Unauthorized', module: MODULE, action: 'inspect' }, message: 'Unauthorized' },
  })
}

describe('inspector streams', () => {
  it('asks the hub once for a stream however many listen, and stops it when the last one stops', async () => {
    const { hub, client } = await connected()
    const first: number[] = []
    const second: number[] = []
    const starting = client.onMetrics(() => first.push(1))
    await hub.answer('stream')
    const stopFirst = await starting
    const stopSecond = await client.onMetrics(() => second.push(2))
    hub.send({ t: 'metrics', snapshot: {} })
    await waitFor(() => second.length === 1)
    expect(first).toEqual([1])
    stopFirst()
    stopFirst()
    await flushMicrotasks()
    expect(hub.sent('stream')).toHaveLength(1)
    stopSecond()
    await waitFor(() => hub.sent('stream').length === 2)
    expect(hub.sent('stream').map(({ name, on }) => [name, on])).toEqual([
      ['metrics', true],
      ['metrics', false],
    ])
  })

  it('refuses every listener that came while the hub was asked, and asks again for the next one', async () => {
    const { hub, client } = await connected()
    const first = client.onMetrics(() => {})
    const second = client.onMetrics(() => {})
    await refuseStream(hub)
    // Before, the second resolved at once, as if the stream were on, and stayed a listener of
    // nothing; every later listener then took the stream for on too and was never asked for.
    expect(await rejectionOf(first)).toMatchObject({ kind: 'Unauthorized' })
    expect(await rejectionOf(second)).toMatchObject({ kind: 'Unauthorized' })
    const third = client.onMetrics(() => {})
    await hub.ridOf('stream', 2)
    await hub.answer('stream')
    await expect(third).resolves.toBeTypeOf('function')
  })

  it('asks for a stream again once its last listener stopped, and tells the new listener', async () => {
    const { hub, client } = await connected()
    const seen: number[] = []
    const starting = client.onMetrics(() => {})
    await hub.answer('stream')
    const stop = await starting
    stop()
    await waitFor(() => hub.sent('stream').length === 2) // off
    const again = client.onMetrics((snapshot) => seen.push(snapshot.messagesPublished))
    await hub.ridOf('stream', 3)
    await hub.answer('stream')
    await again
    hub.send({ t: 'metrics', snapshot: { messagesPublished: 1 } })
    await waitFor(() => seen.length === 1)
    expect(hub.sent('stream').map(({ on }) => on)).toEqual([true, false, true])
  })

  it('refuses a listener that comes after the connection ended, with Disconnected, though one listened before', async () => {
    const { hub, client } = await connected()
    const starting = client.onMetrics(() => {})
    await hub.answer('stream')
    await starting
    await client.close()
    expect(await rejectionOf(client.onMetrics(() => {}))).toMatchObject({ kind: 'Disconnected' })
  })

  it('gives each listener a snapshot and a tail batch of its own: what one changes, the next does not see', async () => {
    const { hub, client } = await connected()
    const changeIt = {
      metrics: (snapshot: BusMetrics) => {
        snapshot.messagesPublished = -1
        snapshot.collectedAt.setTime(0)
      },
      tail: (entries: TailEntry[]) => {
        ;(entries[0]?.message.payload.data as { eventType: string }).eventType = 'changed'
        entries.pop()
      },
    }
    const seen = { published: [] as number[], collectedAt: [] as number[], eventTypes: [] as string[][] }
    const startingMetrics = client.onMetrics(changeIt.metrics)
    await hub.answer('stream')
    await startingMetrics
    await client.onMetrics((snapshot) => {
      seen.published.push(snapshot.messagesPublished)
      seen.collectedAt.push(snapshot.collectedAt.getTime())
    })
    const startingTail = client.onTail(changeIt.tail)
    await hub.ridOf('stream', 2)
    await hub.answer('stream')
    await startingTail
    await client.onTail((entries) =>
      seen.eventTypes.push(
        entries.map((entry) => (entry.message.payload.data as { eventType: string }).eventType),
      ),
    )
    hub.send({ t: 'metrics', snapshot: { messagesPublished: 5, collectedAt: new Date(1000) } })
    hub.send({ t: 'tail', entries: [{ message: rawMessage(), routedTo: 1 }], sampled: false })
    await waitFor(() => seen.published.length === 1 && seen.eventTypes.length === 1)
    expect(seen).toEqual({ published: [5], collectedAt: [1000], eventTypes: [['keystroke']] })
  })

  it('forgets a listener whose stream the hub refused, and hands the tail on with whether it was sampled', async () => {
    const { hub, client } = await connected()
    const refused = client.onTail(() => {})
    await refuseStream(hub)
    expect(await rejectionOf(refused)).toMatchObject({ kind: 'Unauthorized' })
    const batches: [number, boolean][] = []
    const starting = client.onTail((entries, sampled) => batches.push([entries.length, sampled]))
    await hub.ridOf('stream', 2)
    await hub.answer('stream')
    const stop = await starting
    hub.send({ t: 'tail', entries: [{ message: rawMessage(), routedTo: 1 }], sampled: true })
    await waitFor(() => batches.length === 1)
    expect(batches).toEqual([[1, true]])
    await client.close()
    stop() // after the close: nothing to ask
    await flushMicrotasks()
    expect(hub.sent('stream')).toHaveLength(2)
  })
})

describe('the end of the connection', () => {
  it('on close: an ack still due goes first, then bye, then the port closes; later calls fail without asking', async () => {
    const connection = await connected()
    const { hub, client } = connection
    const { gate, started } = await gatedSubscription(connection)
    const reasons: string[] = []
    client.onClose((reason) => reasons.push(reason))
    hub.send({ t: 'dlv', sid: 'sid-1', id: 1, msg: rawMessage(), timeoutMs: 500 })
    await waitFor(() => started.length === 1)
    const before = hub.received.length
    // Runs right after the handler settles: its ack is due, not yet sent with the tick's acks.
    const closing = gate.promise.then(() => client.close())
    gate.resolve()
    await closing
    await client.close()
    await waitFor(() => hub.isClosed())
    expect(hub.received.slice(before)).toEqual([{ t: 'ack', ids: [1] }, { t: 'bye' }])
    expect(client.isOpen).toBe(false)
    expect(reasons).toEqual(['closed by this side'])
    expect(await rejectionOf(client.metrics())).toMatchObject({
      kind: 'Disconnected',
      reason: 'closed by this side',
    })
    await flushMicrotasks()
    expect(hub.received.slice(before).map(({ t }) => t)).toEqual(['ack', 'bye'])
  })

  it('when the hub goes: waiting requests fail Disconnected with why, and every close listener hears it, late ones at once', async () => {
    const { hub, client } = await connected()
    const reasons: string[] = []
    client.onClose((reason) => reasons.push(reason))
    const waiting = client.metrics()
    await hub.ridOf('metrics')
    hub.close()
    expect(await rejectionOf(waiting)).toMatchObject({ kind: 'Disconnected', reason: 'the port closed' })
    expect(reasons).toEqual(['the port closed'])
    client.onClose((reason) => reasons.push(`late: ${reason}`))
    expect(reasons).toEqual(['the port closed', 'late: the port closed'])
    expect(client.isOpen).toBe(false)
  })

  it('when the hub goes: a request awaiting its reply fails, and deliveries from the hub not yet run never run', async () => {
    const connection = await connected({ workers: 1, permissions: { publish: '*', subscribe: '*' } })
    const { hub, client } = connection
    const { gate, started: ran } = await gatedSubscription(connection)
    const [first, second] = [rawMessage(), rawMessage()]
    hub.send({ t: 'dlvs', sid: 'sid-1', id: 1, msgs: [first, second], timeoutMs: 5_000 })
    await waitFor(() => ran.length === 1)
    const request = rejectionOf(
      client.request(
        BusMessage.create(MODULE, MessagePayload.InterventionRequest(validData.InterventionRequest())),
        { replyType: 'InterventionResponse', from: ModuleId.AiIntegration },
      ),
    )
    await hub.ridOf('sub', 2) // it listens for replies first
    await hub.answer('sub', 'sid-2')
    const rid = await hub.ridOf('pubs', 1)
    // Counted by the hub: how many subscriptions take it, of `from` alone when given.
    expect(hub.sent('pubs')[0]?.count).toEqual([{ at: 0, module: ModuleId.AiIntegration }])
    hub.send({ t: 'res', rid, ok: undefined }) // taken, by a subscription somewhere
    await flushMicrotasks()
    hub.close()
    expect(await request).toMatchObject({ kind: 'Disconnected', reason: 'the port closed' })
    gate.resolve()
    await new Promise((resolve) => setTimeout(resolve, 20))
    // The hub redelivers (or dead-letters) what it sent: running it here would run it twice.
    expect(ran).toEqual([first.id])
  })

  it('closes when the hub says bye, and only reports an error the hub sends once welcomed', async () => {
    const { hub, client } = await connected()
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    hub.send({
      t: 'err',
      error: {
        data: { kind: 'MessageRejected', reason: 'odd frame', issues: [] },
        message: 'MessageRejected: odd frame',
      },
    })
    await waitFor(() => error.mock.calls.length > 0)
    expect(error).toHaveBeenCalledWith('skelly-bus: the hub reports: MessageRejected: odd frame')
    expect(client.isOpen).toBe(true)
    hub.send({ t: 'bye', reason: 'detached' })
    await waitFor(() => !client.isOpen)
  })

  it('says in the console that frames from the hub could not be read, and stays open', async () => {
    const { hub, client } = await connected()
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    hub.send({ t: 'welcome-again' }, { t: 'res' }, { t: 'nonsense' })
    await waitFor(() => error.mock.calls.length > 0)
    expect(error).toHaveBeenCalledWith(
      expect.stringMatching(/^skelly-bus: a frame from the hub could not be read, dropped .*'welcome-again'/),
    )
    expect(client.isOpen).toBe(true)
    // The two after the first come together, once the hub link ends if not before.
    hub.close()
    await waitFor(() => error.mock.calls.length === 2)
    expect(error.mock.calls[1]?.[0]).toMatch(
      /^skelly-bus: 2 frames from the hub could not be read, dropped .*'res'/,
    )
  })
})

/**
 * A client the fake hub gave one end of direct channel `r.1` for RawEvent, as its producer (to
 * Storage's Reliable `sid-s`) or as its consumer (from DataCapture): `fromChannel` is what the client
 * sent on it, `channel` the other end, which this test plays.
 */
async function withChannel(
  role: 'producer' | 'consumer',
  connection?: Awaited<ReturnType<typeof connected>>,
) {
  const { hub, client } = connection ?? (await connected())
  const { port1: channel, port2: given } = new MessageChannel()
  const { received: fromChannel, isClosed: channelClosed } = recordFrames(channel)
  const terms = {
    seq: 1,
    targets: [{ sid: 'sid-s', types: ['RawEvent'], reliable: true, timeoutMs: 1_000 }],
    shared: [],
  }
  hub.sendWithPort(
    {
      t: 'route',
      id: 'r.1',
      role,
      peer: role === 'producer' ? ModuleId.Storage : MODULE,
      types: ['RawEvent'],
      port: 0,
      limits: fakeChannelLimits,
      ...(role === 'producer' ? { terms } : {}),
    },
    given,
  )
  if (role === 'producer') await waitFor(() => hub.sent('rsync').length === 1)
  else await new Promise((resolve) => setTimeout(resolve, 10))
  const deliveries = () => fromChannel.filter(({ t }) => t === 'dlvs' || t === 'dlv')
  return { hub, client, channel, fromChannel, deliveries, channelClosed }
}

describe('direct channels', () => {
  it('publishes a routed type over its channel once the hub says go, not through the hub', async () => {
    const { hub, client, deliveries } = await withChannel('producer')
    expect(hub.sent('rsync')).toEqual([{ t: 'rsync', id: 'r.1', seq: 1 }])
    const message = rawMessage()
    const publishing = client.publish(message)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(deliveries()).toEqual([])
    hub.send({ t: 'rgo', id: 'r.1' })
    expect(await publishing).toBe(message.id)
    await waitFor(() => deliveries().length === 1)
    expect(deliveries()[0]).toMatchObject({ sid: 'sid-s', id: 1 })
    // A request too: its takers counted from the route's terms.
    expect(await client[publishRequest](rawMessage(), undefined)).toBe(1)
    await waitFor(() => deliveries().length === 2)
    expect(hub.sent('pubs')).toEqual([])
  })

  it('refuses a routed publish or request in another module’s name, which the hub is not there to check', async () => {
    const { hub, client, deliveries } = await withChannel('producer')
    hub.send({ t: 'rgo', id: 'r.1' })
    const foreign = { ...rawMessage(), source: ModuleId.Storage }
    for (const attempt of [client.publish(foreign as never), client[publishRequest](foreign, undefined)])
      expect(await rejectionOf(attempt)).toMatchObject({
        kind: 'Unauthorized',
        action: 'source',
        type: 'RawEvent',
      })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(deliveries()).toEqual([])
    expect(hub.sent('pubs')).toEqual([])
  })

  it('confirms new terms, and samples for the hub’s tail once asked', async () => {
    const { hub, client } = await withChannel('producer')
    hub.send({ t: 'rgo', id: 'r.1' })
    hub.send({ t: 'rterms', id: 'r.1', terms: { seq: 2, targets: [], shared: [] } })
    await waitFor(() => hub.sent('rsync').length === 2)
    expect(hub.sent('rsync')[1]).toEqual({ t: 'rsync', id: 'r.1', seq: 2 })
    hub.send({ t: 'rtail', id: 'r.1', on: true })
    await new Promise((resolve) => setTimeout(resolve, 10))
    const message = rawMessage()
    await client.publish(message)
    await waitFor(() => hub.sent('rstat').length > 0, 2_000)
    expect(hub.sent('rstat')[0]?.report).toMatchObject({ tail: [{ msg: message, routedTo: 0 }] })
  })

  it('closes a channel still draining after its withdrawal as soon as the hub link ends', async () => {
    const { hub, client, deliveries, channelClosed } = await withChannel('producer')
    hub.send({ t: 'rgo', id: 'r.1' })
    await client.publish(rawMessage())
    await waitFor(() => deliveries().length === 1)
    // Withdrawn with a delivery unacknowledged: the channel waits up to DRAIN_MS for its ack.
    hub.send({ t: 'unroute', id: 'r.1', reason: 'revoked' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(channelClosed()).toBe(false)
    hub.send({ t: 'bye', reason: 'hub-closed' })
    await waitFor(() => !client.isOpen)
    await waitFor(() => channelClosed(), DRAIN_MS / 2)
  })

  it('on close, hands the hub back what its channel has not settled before saying bye', async () => {
    const { hub, client, deliveries } = await withChannel('producer')
    hub.send({ t: 'rgo', id: 'r.1' })
    const message = rawMessage()
    await client.publish(message)
    await waitFor(() => deliveries().length === 1)
    const before = hub.received.length
    await client.close()
    await waitFor(() => hub.isClosed())
    const after = hub.received.slice(before)
    expect(after.filter(({ t }) => t === 'pub')).toEqual([
      { t: 'pub', rid: 0, msg: message, via: 'r.1', to: 'sid-s' },
    ])
    expect(after.at(-1)).toEqual({ t: 'bye' })
  })

  it.each(['producer', 'consumer'] as const)(
    'as a %s, tells the hub of frames on its channel it could not read: the first at once, the rest as the channel closes',
    async (role) => {
      const { hub, channel } = await withChannel(role)
      channel.postMessage([{ t: 'nonsense' }, { t: 'ack', ids: 'none' }, 'not a frame'])
      await waitFor(() => hub.sent('rbad').length === 1)
      expect(hub.sent('rbad')).toEqual([
        { t: 'rbad', id: 'r.1', count: 1, reason: expect.stringContaining("invalid frame 'nonsense'") },
      ])
      const before = hub.received.length
      channel.close()
      await waitFor(() => hub.sent('rbad').length === 2)
      // Sent as the channel closes, ahead of what its closing sends, not a second later.
      expect(hub.received[before]?.t).toBe('rbad')
      expect(hub.sent('rbad')[1]).toEqual({
        t: 'rbad',
        id: 'r.1',
        count: 2,
        reason: expect.stringContaining("invalid frame 'ack'"),
      })
    },
  )

  it.each([
    ['limits', 'consumer', {}],
    ['terms', 'producer', { limits: fakeChannelLimits }],
  ] as const)(
    'says so and closes the port of a route frame that lacks its %s',
    async (lacking, role, given) => {
      const { hub } = await connected()
      const error = vi.spyOn(console, 'error').mockImplementation(() => {})
      const { port1: channel, port2: sent } = new MessageChannel()
      const { isClosed } = recordFrames(channel)
      const route = {
        t: 'route',
        id: 'r.1',
        role,
        peer: ModuleId.Storage,
        types: ['RawEvent'],
        port: 0,
        ...given,
      }
      hub.sendWithPort(route, sent)
      await waitFor(isClosed)
      expect(error).toHaveBeenCalledWith(
        `skelly-bus: the hub's route frame for channel r.1 came without its ${lacking}; the channel stays closed (is the hub of another version?)`,
      )
      expect(hub.sent('rsync')).toEqual([])
    },
  )

  it('says so when a route frame comes without its port', async () => {
    const { hub } = await connected()
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    hub.send({
      t: 'route',
      id: 'r.1',
      role: 'consumer',
      peer: ModuleId.Storage,
      types: ['RawEvent'],
      port: 0,
    })
    await waitFor(() => error.mock.calls.length > 0)
    expect(error.mock.calls[0]?.[0]).toContain('came without its port')
  })

  it('as a producer whose channel’s port closes, hands back what is unacknowledged and tells the hub', async () => {
    const { hub, client, channel, deliveries } = await withChannel('producer')
    hub.send({ t: 'rgo', id: 'r.1' })
    const message = rawMessage()
    await client.publish(message)
    await waitFor(() => deliveries().length === 1)
    channel.close()
    await waitFor(() => hub.sent('rdown').length === 1)
    expect(hub.sent('rdown')).toEqual([
      { t: 'rdown', id: 'r.1', reason: expect.stringMatching(/^the direct channel closed: /) },
    ])
    expect(hub.sent('pub')).toEqual([{ t: 'pub', rid: 0, msg: message, via: 'r.1', to: 'sid-s' }])
  })

  it('forgets a channel it produced on once it closed: the hub’s late frames about it get no answer', async () => {
    const { hub, channel } = await withChannel('producer')
    channel.close()
    await waitFor(() => hub.sent('rdown').length === 1)
    hub.send({ t: 'rterms', id: 'r.1', terms: { seq: 2, targets: [], shared: [] } })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(hub.sent('rsync')).toEqual([{ t: 'rsync', id: 'r.1', seq: 1 }])
  })

  it.each(['producer', 'consumer'] as const)(
    'closes a channel it is the %s of when the hub goes',
    async (role) => {
      const { hub, channelClosed } = await withChannel(role)
      hub.close()
      await waitFor(channelClosed)
    },
  )

  it('as a consumer, has the hub hold a Reliable delivery whose handler failed', async () => {
    const connection = await connected()
    const { hub, client } = connection
    const subscribing = client.subscribe(MODULE, {}, DeliveryMode.Reliable({ timeoutMs: 500 }), () => {
      throw new Error('not now')
    })
    await hub.answer('sub', 'sid-1')
    await subscribing
    const { channel } = await withChannel('consumer', connection)
    const message = rawMessage()
    channel.postMessage([{ t: 'dlv', sid: 'sid-1', id: 1, msg: message, timeoutMs: 500 }])
    await waitFor(() => hub.sent('pub').length === 1)
    expect(hub.sent('pub')).toEqual([{ t: 'pub', rid: 0, msg: message, via: 'r.1', to: 'sid-1', held: true }])
  })

  it('as a consumer, answers gone at once, a subscribe pending or not, what comes for a subscription it dropped', async () => {
    const connection = await connected()
    const { hub, client } = connection
    const subscribing = client.subscribe(MODULE, {}, DeliveryMode.BestEffort, () => {})
    await hub.answer('sub', 'sid-1')
    const sid = await subscribing
    const unsubscribing = client.unsubscribe(sid)
    await hub.answer('unsub')
    await unsubscribing
    const { channel, fromChannel } = await withChannel('consumer', connection)
    // Never answered: the client's close after the test rejects it.
    client.subscribe(MODULE, {}, DeliveryMode.BestEffort, () => {}).catch(() => {})
    await hub.ridOf('sub', 2)
    channel.postMessage([{ t: 'dlv', sid, id: 1, msg: rawMessage(), timeoutMs: 500 }])
    await waitFor(() => fromChannel.length === 1)
    expect(fromChannel[0]).toMatchObject({ t: 'nack', id: 1, gone: true })
  })

  it('as a consumer, holds what came early while a subscribe is pending, and lets it go once the hub refused it', async () => {
    const connection = await connected()
    const { hub, client } = connection
    const { channel, fromChannel } = await withChannel('consumer', connection)
    const subscribing = rejectionOf(client.subscribe(MODULE, {}, DeliveryMode.BestEffort, () => {}))
    const rid = await hub.ridOf('sub')
    channel.postMessage([{ t: 'dlv', sid: 'sid-1', id: 1, msg: rawMessage(), timeoutMs: 500 }])
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(fromChannel).toEqual([]) // held: it may be for the subscription being answered
    hub.send({
      t: 'rej',
      rid,
      error: { data: { kind: 'QueueFull', currentSize: 1, maxSize: 1 }, message: 'QueueFull' },
    })
    await subscribing
    await waitFor(() => fromChannel.length === 1)
    // No subscription here will handle it: answered gone, as it would be with no subscribe pending.
    expect(fromChannel).toEqual([
      {
        t: 'nack',
        id: 1,
        error: 'Unsubscribed: the subscription ended before this delivery ran',
        gone: true,
        timedOut: false,
      },
    ])
  })
})
