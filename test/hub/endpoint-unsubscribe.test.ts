/**
 * `unsubscribe` at an endpoint means what it means in process: delivery stops at once. A handler
 * already running finishes and counts; deliveries the endpoint had received but not started never
 * run, and end as copies the subscription still held (Reliable: dead-lettered `Unsubscribed`;
 * otherwise dropped), whether they came through the hub or over a direct route.
 */
import { describe, expect, it } from 'vitest'
import {
  createEventBus,
  DeliveryMode,
  type Envelope,
  type EventBus,
  type EventBusConfigInput,
  MessageFilter,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import type { BusClient } from '../../src/shared/index.js'
import { expectAccounted, rawMessage, sleep, waitFor } from '../helpers.js'
import { captureToStorage, connectClient, startHub, untilActive } from './fixture.js'
import { overWebSocket } from './websocket-client.js'

const config = { maxRetryAttempts: 0, deliveryTimeoutMs: 2_000, workers: 1 }
const HANDLER_MS = 100
const nameOf = (message: Envelope) => (message.payload.data as { eventType: string }).eventType

/** What a subscriber and the bus have to show once it is quiet. */
async function outcome(bus: EventBus, handled: string[]) {
  await waitFor(async () => {
    const metrics = await bus.metrics()
    return (
      metrics.inFlight === 0 &&
      metrics.messagesDelivered + metrics.messagesDeadLettered + metrics.messagesDropped === 6
    )
  }, 5_000)
  await expectAccounted(bus)
  const metrics = await bus.metrics()
  return {
    handled,
    deadLetters: bus.deadLetters
      .list()
      .map((entry) => `${nameOf(entry.message)} ${entry.reason} after ${entry.attempts}`)
      .sort(),
    counters: metrics.types.RawEvent,
    latencies: metrics.deliveryLatency.count,
  }
}

type Subscriber = Pick<EventBus, 'subscribe' | 'unsubscribe'>

/**
 * A hub with Storage attached by `path` (a port, a port with a direct route from DataCapture, or a
 * WebSocket) and DataCapture by a port; `ready` resolves once the route, if any, carries messages.
 */
async function attachedBy(path: string, busConfig: EventBusConfigInput = config) {
  const { bus, hub } = await startHub(busConfig)
  const route = path === 'direct route' ? captureToStorage(hub) : undefined
  const storage =
    path === 'WebSocket'
      ? await overWebSocket(hub, ModuleId.Storage)
      : await connectClient(hub, ModuleId.Storage)
  const capture = await connectClient(hub, ModuleId.DataCapture)
  const ready = async () => {
    if (route !== undefined) await untilActive(route)
  }
  return { bus, hub, route, storage: storage as Subscriber, capture, ready }
}

const reliable = DeliveryMode.Reliable({ timeoutMs: 2_000 })

/**
 * Subscribes Storage (`mode`) with a handler taking 100 ms, one at a time, then publishes six
 * messages, m0 to m5, once `ready`; resolves as the first runs. `handled` grows as each runs.
 */
async function busyWithSix(
  subscriber: Subscriber,
  publisher: Pick<EventBus, 'publish'>,
  mode: DeliveryMode,
  ready: () => Promise<void> = async () => {},
) {
  const handled: string[] = []
  const id = await subscriber.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, mode, async (message) => {
    handled.push(nameOf(message))
    await sleep(HANDLER_MS)
  })
  await ready()
  for (let i = 0; i < 6; i++)
    await publisher.publish(rawMessage(MessagePriority.Normal, { eventType: `m${i}` }))
  await waitFor(() => handled.length === 1)
  return { id, handled }
}

/**
 * Six messages to a subscription whose handler takes 100 ms, one at a time; it unsubscribes while
 * the first runs, with the other five delivered to it and waiting.
 */
async function unsubscribeWhileBusy(
  bus: EventBus,
  subscriber: Subscriber,
  publisher: Pick<EventBus, 'publish'>,
  mode: DeliveryMode,
  ready?: () => Promise<void>,
) {
  const { id, handled } = await busyWithSix(subscriber, publisher, mode, ready)
  await sleep(20) // the rest reach the endpoint meanwhile
  await subscriber.unsubscribe(id)
  await sleep(HANDLER_MS * 2)
  return outcome(bus, handled)
}

describe('unsubscribe at an endpoint', () => {
  for (const [modeName, mode] of [
    ['Reliable', reliable],
    ['BestEffort', DeliveryMode.BestEffort],
  ] as const) {
    it.each(['hub path', 'direct route', 'WebSocket'])(
      `stops delivery at once and ends what waited as in process (${modeName}, %s)`,
      async (path) => {
        const local = createEventBus(config)
        await local.start()
        const inProcess = await unsubscribeWhileBusy(local, local, local, mode)
        await local.shutdown({ drainTimeoutMs: 0 })
        expect(inProcess.handled).toEqual(['m0'])

        const { bus, storage, capture, ready } = await attachedBy(path)
        expect(await unsubscribeWhileBusy(bus, storage, capture, mode, ready)).toEqual(inProcess)
      },
    )
  }

  it('accounts for a handler still running when its endpoint, unsubscribed, goes away', async () => {
    const { bus, hub } = await startHub(config)
    const storage = await connectClient(hub, ModuleId.Storage)
    let started = false
    const id = await storage.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, reliable, () => {
      started = true
      return new Promise(() => {}) // never settles
    })
    await bus.publish(rawMessage(MessagePriority.Normal, { eventType: 'stuck' }))
    await waitFor(() => started)
    await storage.unsubscribe(id)
    expect((await bus.metrics()).inFlight).toBe(1)
    await storage.close()
    await waitFor(async () => (await bus.metrics()).inFlight === 0)
    expect(bus.deadLetters.list().map((entry) => [nameOf(entry.message), entry.reason])).toEqual([
      ['stuck', 'Unsubscribed'],
    ])
    await expectAccounted(bus)
  })
})

describe('unsubscribe at the consumer of a direct route whose producer left', () => {
  /**
   * Six messages over a route to a handler taking 100 ms; while the first runs, the producer goes
   * (`leave`), then the consumer unsubscribes, holding the other five from the closed channel.
   */
  async function unsubscribeAfterProducerLeft(leave: (hub: Hub, capture: BusClient) => Promise<void>) {
    const { bus, hub } = await startHub(config)
    const route = captureToStorage(hub)
    const storage = await connectClient(hub, ModuleId.Storage)
    const capture = await connectClient(hub, ModuleId.DataCapture)
    const { id, handled } = await busyWithSix(storage, capture, reliable, () => untilActive(route))
    await leave(hub, capture)
    await waitFor(() => route.state !== 'active')
    await storage.unsubscribe(id)
    // Each message ends delivered or dead-lettered (the consumer's final counts stand in for those
    // a dead producer never sent).
    await waitFor(async () => {
      const { inFlight, messagesDelivered, messagesDeadLettered } = await bus.metrics()
      return inFlight === 0 && messagesDelivered + messagesDeadLettered === 6
    }, 5_000)
    await sleep(HANDLER_MS)
    expect(handled).toEqual(['m0'])
    await expectAccounted(bus)
    return bus.deadLetters
      .list()
      .map((entry) => `${nameOf(entry.message)} ${entry.reason}`)
      .sort()
  }

  const unsubscribed = (...names: string[]) => names.map((name) => `${name} Unsubscribed`)

  it('dead-letters each delivery that never ran once, as Unsubscribed, when the producer died', async () => {
    // Cut off by the hub: nothing the producer sends reaches it any more, no hand-back, no counts.
    // The hub has what the consumer held in its custody; the consumer's `gone` ends each.
    const deadLetters = await unsubscribeAfterProducerLeft(async (hub) => {
      for (const attachment of hub.attachments())
        if (attachment.module === ModuleId.DataCapture) attachment.detach()
    })
    expect(deadLetters).toEqual(unsubscribed('m1', 'm2', 'm3', 'm4', 'm5'))
  })

  it('dead-letters each delivery that never ran once, as Unsubscribed, when the producer closed', async () => {
    const deadLetters = await unsubscribeAfterProducerLeft((_hub, capture) => capture.close())
    // m0 ran while its producer left without its ack, so the hub took it back and queued it again,
    // as after any lost ack (README, *What a direct route does not give*); unsubscribed, that copy
    // is dead-lettered too. The others never ran: each is dead-lettered once, whichever copy ended.
    expect(deadLetters).toEqual(unsubscribed('m0', 'm1', 'm2', 'm3', 'm4', 'm5'))
  })
})

describe('an endpoint whose connection ends', () => {
  it('runs none of the deliveries from the hub it still held: the hub ends each', async () => {
    const { bus, hub, storage, capture } = await attachedBy('hub path')
    const { handled } = await busyWithSix(storage, capture, reliable)
    await sleep(20) // the rest reach the endpoint meanwhile
    for (const attachment of hub.attachments())
      if (attachment.module === ModuleId.Storage) attachment.detach()
    await sleep(HANDLER_MS * 3)
    expect(handled).toEqual(['m0'])
    // The hub ends what it had sent as the subscriptions of a detached endpoint end; m0 too, whose
    // handler ran but whose ack could not come back.
    const deadLetters = bus.deadLetters.list().map((entry) => `${nameOf(entry.message)} ${entry.reason}`)
    expect(deadLetters.sort()).toEqual(
      ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((name) => `${name} Unsubscribed`),
    )
    await expectAccounted(bus)
  })
})

describe('a bus shutting down under a busy endpoint', () => {
  /**
   * Six messages to a handler taking 100 ms each; the bus shuts down, with `drainTimeoutMs` to
   * drain, while the first runs. What it shows as `shutdown` resolves is final: nothing comes later.
   */
  async function shutDownWhileBusy(
    mode: DeliveryMode,
    drainTimeoutMs: number,
    bus: EventBus,
    subscriber: Subscriber,
    publisher: Pick<EventBus, 'publish'>,
    ready?: () => Promise<void>,
  ) {
    const { handled } = await busyWithSix(subscriber, publisher, mode, ready)
    const stopping = bus.shutdown({ drainTimeoutMs })
    // A subscription asked for while the bus drains is refused, as a publish is.
    const subscribing = subscriber
      .subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {})
      .then(
        () => 'subscribed',
        (error) => error.kind,
      )
    await stopping
    const atStop = await final(bus)
    const refused = await publisher.publish(rawMessage(MessagePriority.Normal)).catch((error) => error.kind)
    await sleep(HANDLER_MS * 4)
    await expectAccounted(bus)
    expect(await final(bus)).toEqual(atStop)
    return { handled, ...atStop, refused, subscribing: await subscribing }
  }

  /** What a stopped bus shows: dead letters (message, reason and attempts) and counters. */
  async function final(bus: EventBus) {
    const deadLetters = bus.deadLetters
      .list()
      .map((entry) => `${nameOf(entry.message)} ${entry.reason} ${entry.attempts}`)
    const { inFlight, messagesDelivered, messagesDeadLettered, messagesDropped, types } = await bus.metrics()
    return {
      deadLetters: deadLetters.sort(),
      inFlight,
      messagesDelivered,
      messagesDeadLettered,
      messagesDropped,
      types,
    }
  }

  /** Drain timeouts, and what the bus in process runs and dead-letters with each. */
  const drains = [
    { drainTimeoutMs: HANDLER_MS * 2.5, handled: ['m0', 'm1', 'm2'], ended: ['m2', 'm3', 'm4', 'm5'] },
    { drainTimeoutMs: 0, handled: ['m0'], ended: ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'] },
  ]
  const modes = [
    { mode: 'Reliable', deliveryMode: reliable },
    { mode: 'BestEffort', deliveryMode: DeliveryMode.BestEffort },
  ]
  const cases = ['hub path', 'direct route', 'WebSocket'].flatMap((path) =>
    modes.flatMap((mode) =>
      drains.map((drain) => ({ path, ...mode, drain: `${drain.drainTimeoutMs} ms`, ...drain })),
    ),
  )

  it.each(cases)(
    'runs none of the deliveries it ends, and its counts are final as it stops ($path, $mode, drain $drain)',
    async ({ path, deliveryMode, drainTimeoutMs, handled, ended }) => {
      const local = createEventBus(config)
      await local.start()
      const inProcess = await shutDownWhileBusy(deliveryMode, drainTimeoutMs, local, local, local)
      // Reliable copies the drain leaves are dead-lettered; the others dropped.
      const reliably = deliveryMode.kind === 'Reliable'
      expect(inProcess).toMatchObject({
        handled,
        // The one running as the drain ended counts its attempt; those that waited, none.
        deadLetters: reliably
          ? ended.map((name) => `${name} Shutdown ${handled.includes(name) ? 1 : 0}`)
          : [],
        messagesDropped: reliably ? 0 : ended.length,
        inFlight: 0,
        refused: 'BusShuttingDown',
        subscribing: 'BusShuttingDown',
      })

      const { bus, hub, route, storage, capture, ready } = await attachedBy(path)
      const remote = await shutDownWhileBusy(deliveryMode, drainTimeoutMs, bus, storage, capture, ready)
      expect(remote).toEqual(inProcess)
      if (route !== undefined) {
        expect({ state: route.state, reason: route.reason }).toEqual({
          state: 'revoked',
          reason: 'the bus is shutting down',
        })
        expect(() =>
          hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] }),
        ).toThrow(expect.objectContaining({ kind: 'BusShuttingDown' }))
      }
    },
  )
  /** `config` with at most two Reliable retries, each `ms` after the failure before it. */
  const retryingEvery = (ms: number) => ({
    ...config,
    maxRetryAttempts: 2,
    retry: { initialMs: ms, maxMs: ms, multiplier: 1, jitter: 0 },
  })

  /** What the handler ran, the dead letters (with attempts and last error) and the counters. */
  async function afterShutdown(bus: EventBus, tries: string[]) {
    const deadLetters = bus.deadLetters
      .list()
      .map((entry) => `${nameOf(entry.message)} ${entry.reason} after ${entry.attempts}: ${entry.lastError}`)
      .sort()
    return { tries, deadLetters, counters: (await bus.metrics()).types.RawEvent }
  }

  type Scenario = (
    bus: EventBus,
    subscriber: Subscriber,
    publisher: Pick<EventBus, 'publish'>,
    ready?: () => Promise<void>,
  ) => ReturnType<typeof afterShutdown>

  /** Plays `scenario` in process, then with Storage attached by `path`: the same outcome. */
  async function inProcessAndOver(path: string, busConfig: EventBusConfigInput, scenario: Scenario) {
    const local = createEventBus(busConfig)
    await local.start()
    const inProcess = await scenario(local, local, local)
    const { bus, storage, capture, ready } = await attachedBy(path, busConfig)
    expect(await scenario(bus, storage, capture, ready)).toEqual(inProcess)
    return inProcess
  }

  it.each(['hub path', 'direct route', 'WebSocket'])(
    'retries a delivery failing while it drains within its own budget, as in process (%s)',
    async (path) => {
      // Over a direct route the first attempt fails as the channel is withdrawn: the hub path
      // goes on from it instead of starting the attempts again.
      const inProcess = await inProcessAndOver(
        path,
        retryingEvery(50),
        /** One message whose handler fails every attempt after 30 ms; the bus shuts down as it runs. */
        async (bus, subscriber, publisher, ready) => {
          const tries: string[] = []
          await subscriber.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, reliable, async (message) => {
            tries.push(nameOf(message))
            await sleep(30)
            throw new Error('boom')
          })
          await ready?.()
          await publisher.publish(rawMessage(MessagePriority.Normal, { eventType: 'm0' }))
          await waitFor(() => tries.length === 1)
          await bus.shutdown({ drainTimeoutMs: 1_000 })
          return afterShutdown(bus, tries)
        },
      )
      expect(inProcess.deadLetters).toEqual(['m0 MaxRetriesExceeded after 3: Error: boom'])
    },
  )
  it.each(['hub path', 'direct route', 'WebSocket'])(
    'counts the failed attempt, not the unstarted retry, of a delivery it ends as in process (%s)',
    async (path) => {
      const inProcess = await inProcessAndOver(
        path,
        retryingEvery(10),
        /**
         * m0 fails its first attempt; its retry waits behind m1, whose handler is still running
         * when the bus shuts down with a drain too short for it.
         */
        async (bus, subscriber, publisher, ready) => {
          const tries: string[] = []
          await subscriber.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, reliable, async (message) => {
            const name = nameOf(message)
            tries.push(name)
            if (name === 'm0') throw new Error('boom')
            await sleep(HANDLER_MS * 5)
          })
          await ready?.()
          await publisher.publish(rawMessage(MessagePriority.Normal, { eventType: 'm0' }))
          await waitFor(() => tries.length === 1)
          await publisher.publish(rawMessage(MessagePriority.Normal, { eventType: 'm1' }))
          await waitFor(() => tries.length === 2)
          await sleep(HANDLER_MS) // m0's retry is due, and waits for m1's handler
          await bus.shutdown({ drainTimeoutMs: 0 })
          return afterShutdown(bus, tries)
        },
      )
      expect(inProcess.deadLetters).toEqual([
        'm0 Shutdown after 1: Error: boom',
        'm1 Shutdown after 1: undefined',
      ])
    },
  )
})
