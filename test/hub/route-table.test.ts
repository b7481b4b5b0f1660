/**
 * The route table on its own: a real bus in process, endpoints that are fakes recording what the
 * hub sends them, and ports that are plain objects. The direct-route tests hold the route table's
 * rules across threads, with real producers and consumers; these hold each rule alone, in
 * milliseconds: declaring, setting a channel up and withdrawing it, the terms and their
 * confirmation, the producer's reports and dead letters, the consumer's final counts, and which
 * frames are refused from whom.
 */
import { describe, expect, it, vi } from 'vitest'
import {
  createEventBus,
  DeliveryMode,
  type Envelope,
  MessageFilter,
  ModuleId,
} from '../../src/main/bus/index.js'
import { busInternals, type WithInternals } from '../../src/main/bus/internal.js'
import type { Subscription } from '../../src/main/bus/subscription.js'
import type { PortPair, Route, RouteEndpoint } from '../../src/main/hub/route.js'
import { RouteTable } from '../../src/main/hub/routes.js'
import { BusMessage, MessagePayload } from '../../src/shared/message.js'
import {
  type DirectCounts,
  type DirectReport,
  type EndpointFrame,
  type HubFrame,
  type Permissions,
  zeroChannelOutcomes,
  zeroDirectCounts,
} from '../../src/shared/wire.js'
import {
  advance,
  deferred,
  flushMicrotasks,
  shutDownAfterEach,
  sleep,
  thrownBy,
  useFakeClock,
  validData,
  waitFor,
} from '../helpers.js'

const track = shutDownAfterEach()
const HOT_PATH = { producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] }
/** The types the tests' routes carry. */
const ROUTED_TYPES = ['RawEvent', 'StateChange']
const PRODUCER_GRANT: Permissions = { publish: ROUTED_TYPES, subscribe: [] }
const CONSUMER_GRANT: Permissions = { publish: [], subscribe: ROUTED_TYPES }
/** The least time between two set-ups of one route (routes.ts), and a little more. */
const PAST_RESTART_DELAY_MS = 1_100

/** An attached endpoint's session as the route table sees it, recording what it is sent. */
interface FakeEndpoint extends RouteEndpoint {
  canRoute: boolean
  /** Frames sent without a port, in order. */
  readonly sent: HubFrame[]
  /** Frames sent with a port (a channel's end), in order. */
  readonly handed: { frame: HubFrame; port: unknown }[]
  /** Makes its transport refuse ports, as one that cannot carry them does. */
  refusePorts: boolean
  /** Frames it sent on a channel that the other end could not read, as the table told it. */
  readonly unreadable: { count: number; message: string }[]
}

function fakeEndpoint(
  module: string,
  permissions: Permissions,
  subscriptions: () => Subscription[] = () => [],
): FakeEndpoint {
  const sent: HubFrame[] = []
  const handed: { frame: HubFrame; port: unknown }[] = []
  const unreadable: { count: number; message: string }[] = []
  const endpoint: FakeEndpoint = {
    module,
    permissions,
    canRoute: true,
    refusePorts: false,
    sent,
    handed,
    unreadable,
    send: (frame) => sent.push(frame),
    sendWithPort: (frame, port) => {
      if (endpoint.refusePorts) throw new Error('this transport carries no ports')
      handed.push({ frame, port })
    },
    remoteSubscriptions: () =>
      subscriptions().map((subscription) => ({ subscription, handlerTimeoutMs: 1_000 })),
    sentUnreadable: (count, error) => unreadable.push({ count, message: error.message }),
  }
  return endpoint
}

/** A port of a fake channel: counts its closes. */
interface FakePort {
  readonly end: 1 | 2
  closed: number
  close(): void
}

function fakePair(): PortPair & { port1: FakePort; port2: FakePort } {
  const port = (end: 1 | 2): FakePort => ({
    end,
    closed: 0,
    close() {
      this.closed++
    },
  })
  return { port1: port(1), port2: port(2) }
}

/**
 * A route table over a started bus, with DataCapture (may publish RawEvent and StateChange) and
 * Storage (may receive them) as fake endpoints, not yet attached. `createChannel: null` gives a table that can
 * make no channels; `memoryMs` is how long a closed channel's frames are still taken.
 */
async function table(options: { createChannel?: (() => PortPair) | null; memoryMs?: number } = {}) {
  const bus = track(createEventBus({ maxRetryAttempts: 2, retry: { initialMs: 1, maxMs: 1, jitter: 0 } }))
  await bus.start()
  const internals = (bus as unknown as WithInternals)[busInternals]
  const pairs: ReturnType<typeof fakePair>[] = []
  const createChannel =
    options.createChannel === null
      ? undefined
      : (options.createChannel ??
        (() => {
          const pair = fakePair()
          pairs.push(pair)
          return pair
        }))
  let tailSampled = 0
  const routes = new RouteTable(bus, internals, createChannel, () => tailSampled++, options.memoryMs ?? 50)
  const producer = fakeEndpoint(ModuleId.DataCapture, PRODUCER_GRANT)
  // Storage's subscriptions in process stand for those its session holds.
  const consumer = fakeEndpoint(ModuleId.Storage, CONSUMER_GRANT, () => [
    ...new Set(
      ROUTED_TYPES.flatMap((type) => internals.subscribersOf(type)).filter(
        (subscription) => subscription.module === ModuleId.Storage,
      ),
    ),
  ])
  /**
   * Subscribes Storage (in process, so its session's) to RawEvent, or to what `filter` says; resolves
   * once the table has refreshed its terms.
   */
  const subscribe = async (
    mode: DeliveryMode = DeliveryMode.Reliable(),
    handler: (message: Envelope) => unknown = () => {},
    filter: MessageFilter = MessageFilter.types(['RawEvent']),
  ) => {
    const sid = await bus.subscribe(ModuleId.Storage, filter, mode, handler as never)
    const subscription = internals.find(sid)
    if (subscription === undefined) throw new Error(`no subscription ${sid}`)
    await flushMicrotasks()
    return { sid, subscription }
  }
  /** Subscribes Gamification to RawEvent in process: a subscriber no channel serves. */
  const subscribeElsewhere = async () => {
    await bus.subscribe(
      ModuleId.Gamification,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      () => {},
    )
    await flushMicrotasks()
  }
  const declare = (spec: object = HOT_PATH) => routes.declare(spec) as Route
  const attachBoth = () => {
    routes.attached(producer)
    routes.attached(consumer)
  }
  /** The frames of kind `t` `endpoint` was sent, with or without a port. */
  const framesTo = <T extends HubFrame['t']>(endpoint: FakeEndpoint, t: T) =>
    [...endpoint.sent, ...endpoint.handed.map(({ frame }) => frame)].filter(
      (frame): frame is Extract<HubFrame, { t: T }> => frame.t === t,
    )
  /** The route frame that handed `endpoint` its latest channel's end. */
  const opening = (endpoint: FakeEndpoint) => {
    const last = endpoint.handed.at(-1)?.frame
    if (last?.t !== 'route') throw new Error(`${endpoint.module} was handed no channel`)
    return last
  }
  /** `route`'s open channel id. */
  const channelId = (route: Route) => {
    const id = route.channel?.id
    if (id === undefined) throw new Error(`route ${route.id} has no channel`)
    return id
  }
  /** Has the producer confirm `route`'s current terms, and waits for the route to start. */
  const confirm = async (route: Route) => {
    const channel = route.channel
    if (channel === undefined) throw new Error(`route ${route.id} has no channel`)
    routes.receive(producer, { t: 'rsync', id: channel.id, seq: channel.terms.seq })
    await waitFor(() => route.state === 'active')
  }
  const subscriptionMetrics = async (sid: string) => {
    await flushMicrotasks()
    const found = (await bus.metrics()).subscriptions.find((each) => each.id === sid)
    if (found === undefined) throw new Error(`no subscription ${sid}`)
    return found
  }
  return {
    bus,
    internals,
    routes,
    producer,
    consumer,
    pairs,
    subscribe,
    subscribeElsewhere,
    declare,
    attachBoth,
    framesTo,
    opening,
    channelId,
    confirm,
    subscriptionMetrics,
    tailSampled: () => tailSampled,
  }
}

/** A route DataCapture → Storage, active, serving one Reliable subscription of Storage. */
async function activeRoute(options: Parameters<typeof table>[0] = {}) {
  const context = await table(options)
  const { sid, subscription } = await context.subscribe()
  const route = context.declare()
  context.attachBoth()
  await context.confirm(route)
  return { ...context, route, sid, subscription, id: context.channelId(route) }
}

/** A producer's report that counts `counts` and nothing else. */
function reportOf(
  counts: Partial<DirectCounts> & Pick<DirectCounts, 'sid'>,
  more: Partial<DirectReport> = {},
) {
  return {
    published: [],
    counts: [{ ...zeroDirectCounts(counts.sid, 'RawEvent'), ...counts }],
    latency: [],
    queued: 0,
    inFlight: 0,
    ...more,
  } satisfies DirectReport
}

/** The producer's report frame of channel `id`, counting `counts` (see {@link reportOf}). */
function rstat(id: string, ...report: Parameters<typeof reportOf>): EndpointFrame {
  return { t: 'rstat', id, report: reportOf(...report) }
}

function rawEventFrom(source: string = ModuleId.DataCapture) {
  return BusMessage.create(source as ModuleId, MessagePayload.RawEvent(validData.RawEvent()))
}

describe('the route table: declaring a route', () => {
  it('numbers routes by producer and consumer, and lists them', async () => {
    const { routes, declare } = await table()
    const first = declare()
    const second = declare({ ...HOT_PATH, types: ['StateChange'] })
    expect(first.id).toBe('data-capture→storage#1')
    expect(second.id).toBe('data-capture→storage#2')
    expect(routes.list()).toEqual([first, second])
    expect(first).toMatchObject({
      state: 'waiting',
      reason: 'waiting for data-capture and storage to attach over ports',
    })
  })

  it('refuses an invalid spec, naming the field', async () => {
    const { routes, declare } = await table()
    expect(thrownBy(() => declare({ ...HOT_PATH, types: [] }))).toMatchObject({
      kind: 'Configuration',
      reason:
        'route: types: Too small: expected array to have >=1 items (expected { producer, consumer, types, mode? })',
    })
    expect(thrownBy(() => declare({ ...HOT_PATH, types: ['RawEvent', 'RawEvent'] }))).toMatchObject({
      kind: 'Configuration',
      reason: expect.stringContaining('types: lists a type more than once'),
    })
    // A misspelt key would otherwise leave the route serving both kinds unasked.
    expect(thrownBy(() => declare({ ...HOT_PATH, modes: 'Reliable' }))).toMatchObject({
      kind: 'Configuration',
      reason: expect.stringMatching(/^route: spec: Unrecognized key: "modes" /),
    })
    // LatestOnly keeps the newest per source in the hub's queue: no channel can serve it.
    expect(thrownBy(() => declare({ ...HOT_PATH, mode: 'LatestOnly' }))).toMatchObject({
      kind: 'Configuration',
      reason: expect.stringMatching(
        /^route: mode: Invalid option: expected one of "BestEffort"\|"Reliable" /,
      ),
    })
    expect(routes.list()).toEqual([])
  })

  it('keeps its own list of types, frozen: neither the caller’s array, nor the one its metrics give, nor the route’s holder can change it', async () => {
    const { declare } = await table()
    const types = ['RawEvent']
    const route = declare({ ...HOT_PATH, types })
    types.push('StateChange')
    route.metrics().types.push('EventBatch')
    // Nor anyone holding the route: the hub matches reports and copies against these.
    expect(() => (route.types as string[]).push('EventBatch')).toThrow(TypeError)
    expect(route.types).toEqual(['RawEvent'])
    expect(route.metrics().types).toEqual(['RawEvent'])
  })

  it('refuses a route from a module to itself', async () => {
    const { declare } = await table()
    expect(thrownBy(() => declare({ ...HOT_PATH, consumer: ModuleId.DataCapture }))).toMatchObject({
      kind: 'Configuration',
      message: expect.stringContaining('producer and consumer must differ'),
    })
  })

  it("refuses a type the catalog lacks, an inherited property's name included", async () => {
    const { declare } = await table()
    for (const type of ['Nope', 'toString', 'constructor']) {
      expect(thrownBy(() => declare({ ...HOT_PATH, types: [type] }))).toMatchObject({
        kind: 'Configuration',
        message: expect.stringContaining(`'${type}' is not in the bus's catalog`),
      })
    }
  })

  it('refuses a type its producer already sends direct, until that route is revoked; another producer may', async () => {
    const { routes, declare } = await table()
    const first = declare({ ...HOT_PATH, types: ['StateChange', 'RawEvent'] })
    expect(thrownBy(() => declare({ ...HOT_PATH, consumer: ModuleId.Gamification }))).toMatchObject({
      kind: 'Configuration',
      message: expect.stringContaining(`data-capture's 'RawEvent' already goes direct (${first.id})`),
    })
    expect(declare({ ...HOT_PATH, producer: ModuleId.AnalysisEngine }).state).toBe('waiting')
    first.revoke()
    expect(declare({ ...HOT_PATH, consumer: ModuleId.Gamification }).state).toBe('waiting')
    expect(routes.list()).toHaveLength(3)
  })

  it('refuses a route an attached end has no permission for, and declares nothing', async () => {
    const { routes, declare, producer } = await table()
    routes.attached({ ...producer, permissions: { publish: ['StateChange'], subscribe: [] } })
    expect(thrownBy(() => declare())).toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.DataCapture,
      action: 'publish',
      type: 'RawEvent',
    })
    const consumer = fakeEndpoint(ModuleId.Gamification, { publish: [], subscribe: ['StateChange'] })
    routes.attached(consumer)
    expect(
      thrownBy(() =>
        declare({ ...HOT_PATH, producer: ModuleId.AnalysisEngine, consumer: ModuleId.Gamification }),
      ),
    ).toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.Gamification,
      action: 'subscribe',
      type: 'RawEvent',
    })
    expect(routes.list()).toEqual([])
  })

  it('refuses every declaration once the bus is shutting down, and after', async () => {
    const { bus, declare } = await table()
    const stopping = bus.shutdown({ drainTimeoutMs: 0 })
    expect(bus.state).toBe('shuttingDown')
    expect(thrownBy(() => declare())).toMatchObject({ kind: 'BusShuttingDown' })
    await stopping
    expect(thrownBy(() => declare())).toMatchObject({ kind: 'BusShuttingDown' })
  })
})

describe('the route table: setting a channel up', () => {
  it('hands each end its port once both are attached, the producer with the terms', async () => {
    const { routes, declare, producer, consumer, pairs, subscribe, opening } = await table()
    const { sid } = await subscribe()
    const route = declare()
    routes.attached(producer)
    expect(route).toMatchObject({ state: 'waiting', reason: 'waiting for storage to attach over ports' })
    expect(pairs).toHaveLength(0)
    routes.attached(consumer)
    expect(route).toMatchObject({ state: 'establishing', reason: undefined })
    expect(pairs).toHaveLength(1)
    const id = `${route.id}.1`
    expect(consumer.handed).toEqual([
      {
        frame: expect.objectContaining({ t: 'route', id, role: 'consumer', peer: ModuleId.DataCapture }),
        port: pairs[0]?.port2,
      },
    ])
    expect(opening(consumer)).not.toHaveProperty('terms')
    expect(producer.handed).toEqual([
      {
        frame: expect.objectContaining({ t: 'route', id, role: 'producer', peer: ModuleId.Storage }),
        port: pairs[0]?.port1,
      },
    ])
    expect(opening(producer)).toMatchObject({
      types: ['RawEvent'],
      terms: {
        seq: 0,
        targets: [{ sid, types: ['RawEvent'], reliable: true, timeoutMs: 1_000 }],
        shared: [],
      },
      limits: { maxRetryAttempts: 2, retry: { initialMs: 1, maxMs: 1 }, window: 1024 },
    })
    expect(route.metrics()).toMatchObject({ established: 1, fallbacks: 0 })
    // A route with nothing wrong gives no reason, not one that is undefined.
    expect(Object.hasOwn(route.metrics(), 'reason')).toBe(false)
  })

  it('takes the latest attached endpoint of a module that can carry ports, and none that cannot', async () => {
    const { routes, declare, producer, consumer, pairs } = await table()
    const route = declare()
    const later = fakeEndpoint(ModuleId.Storage, CONSUMER_GRANT)
    later.canRoute = false
    routes.attached(producer)
    routes.attached(later)
    expect(pairs).toHaveLength(0)
    routes.attached(consumer)
    expect(consumer.handed).toHaveLength(1)
    expect(later.handed).toEqual([])
    expect(route.state).toBe('establishing')
    // A module attached twice (a window reloaded before its old session ended) routes its newest.
    const newest = fakeEndpoint(ModuleId.DataCapture, PRODUCER_GRANT)
    routes.attached(newest)
    routes.detached(consumer)
    routes.attached(consumer)
    await waitFor(() => newest.handed.length === 1)
    expect(producer.handed).toHaveLength(1)
  })

  it('stays on the hub path, saying why, when an end attaches without the permission', async () => {
    const { routes, declare, producer, pairs } = await table()
    const route = declare()
    routes.attached(producer)
    routes.attached(fakeEndpoint(ModuleId.Storage, { publish: [], subscribe: ['StateChange'] }))
    expect(route.state).toBe('waiting')
    expect(route.reason).toMatch(/storage.*subscribe.*RawEvent|RawEvent.*storage/i)
    expect(pairs).toHaveLength(0)
    expect(producer.handed).toEqual([])
  })

  it('stays on the hub path, saying why, when it can make no channel or making one fails', async () => {
    const none = await table({ createChannel: null })
    const route = none.declare()
    none.attachBoth()
    expect(route).toMatchObject({ state: 'waiting', reason: 'this hub has no way to create channels' })
    const failing = await table({
      createChannel: () => {
        throw new Error('no more ports')
      },
    })
    const failed = failing.declare()
    failing.attachBoth()
    expect(failed).toMatchObject({
      state: 'waiting',
      reason: 'could not create a channel: Error: no more ports',
    })
    expect(failing.producer.handed).toEqual([])
  })

  it('closes both ports when the consumer’s transport refuses its end, and tells the producer nothing', async () => {
    const { declare, attachBoth, consumer, producer, pairs } = await table()
    consumer.refusePorts = true
    const route = declare()
    attachBoth()
    expect(route.state).toBe('waiting')
    expect(route.reason).toBe('could not hand the channel to storage: Error: this transport carries no ports')
    expect(pairs.map(({ port1, port2 }) => [port1.closed, port2.closed])).toEqual([[1, 1]])
    expect(producer.handed).toEqual([])
    expect(producer.sent).toEqual([])
    expect(route.metrics().established).toBe(0)
  })

  it('tells the consumer to let go when the producer’s transport refuses its end, and waits for an attachment', async () => {
    const { routes, declare, attachBoth, consumer, producer, pairs, framesTo } = await table()
    producer.refusePorts = true
    const route = declare()
    attachBoth()
    expect(route.state).toBe('waiting')
    expect(route.reason).toBe(
      'could not hand the channel to data-capture: Error: this transport carries no ports',
    )
    expect(pairs[0]?.port1.closed).toBe(1)
    expect(framesTo(consumer, 'unroute')).toEqual([
      { t: 'unroute', id: `${route.id}.1`, reason: route.reason },
    ])
    await sleep(PAST_RESTART_DELAY_MS)
    expect(pairs).toHaveLength(1)
    producer.refusePorts = false
    routes.attached(producer)
    expect(pairs).toHaveLength(2)
    expect(route.state).toBe('establishing')
  })

  it('has a new channel’s producer sample for the tail while the hub streams it', async () => {
    const { routes, declare, attachBoth, producer, framesTo, channelId } = await table()
    routes.setTailing(true)
    const route = declare()
    attachBoth()
    const id = channelId(route)
    expect(framesTo(producer, 'rtail')).toEqual([{ t: 'rtail', id, on: true }])
    routes.setTailing(true)
    routes.setTailing(false)
    routes.setTailing(false)
    expect(framesTo(producer, 'rtail')).toEqual([
      { t: 'rtail', id, on: true },
      { t: 'rtail', id, on: false },
    ])
  })
})

describe('the route table: starting a channel', () => {
  it('lets the producer start once it confirms its terms, once', async () => {
    const { routes, declare, attachBoth, producer, framesTo, channelId, subscribe } = await table()
    await subscribe()
    const route = declare()
    attachBoth()
    const id = channelId(route)
    await sleep(20)
    expect(route.state).toBe('establishing')
    expect(framesTo(producer, 'rgo')).toEqual([])
    routes.receive(producer, { t: 'rsync', id, seq: 0 })
    await waitFor(() => route.state === 'active')
    routes.receive(producer, { t: 'rsync', id, seq: 0 })
    await sleep(20)
    expect(framesTo(producer, 'rgo')).toEqual([{ t: 'rgo', id }])
  })

  it('keeps the producer waiting while a subscription it serves still handles what came through the hub', async () => {
    const { bus, routes, declare, attachBoth, producer, framesTo, channelId, subscribe } = await table()
    const handling = deferred()
    await subscribe(DeliveryMode.Reliable(), () => handling.promise)
    await bus.publish(rawEventFrom())
    const route = declare()
    attachBoth()
    routes.receive(producer, { t: 'rsync', id: channelId(route), seq: 0 })
    await sleep(50)
    expect(route.state).toBe('establishing')
    expect(framesTo(producer, 'rgo')).toEqual([])
    // Terms confirmed while it waits start no second wait.
    await subscribe(DeliveryMode.BestEffort)
    routes.receive(producer, { t: 'rsync', id: channelId(route), seq: 1 })
    handling.resolve()
    await waitFor(() => route.state === 'active')
    await sleep(20)
    expect(framesTo(producer, 'rgo')).toHaveLength(1)
  })
})

describe('the route table: terms', () => {
  it('sends new terms when the subscriptions served change, and only then', async () => {
    const { routes, producer, framesTo, subscribe, route, sid, id } = await activeRoute()
    routes.refresh()
    expect(framesTo(producer, 'rterms')).toEqual([])
    const second = await subscribe(DeliveryMode.BestEffort)
    const terms = {
      t: 'rterms',
      id,
      terms: {
        seq: 1,
        targets: [
          expect.objectContaining({ sid, reliable: true }),
          expect.objectContaining({ sid: second.sid, reliable: false }),
        ],
        shared: [],
      },
    }
    expect(framesTo(producer, 'rterms')).toEqual([terms])
    routes.refresh()
    expect(framesTo(producer, 'rterms')).toEqual([terms])
    expect(route.channel?.served).toEqual(
      new Map([
        [sid, true],
        [second.sid, false],
      ]),
    )
  })

  it('tells the producer which types other subscribers want, as soon as one subscribes in process', async () => {
    const { producer, framesTo, id, subscribeElsewhere } = await activeRoute()
    await subscribeElsewhere()
    expect(framesTo(producer, 'rterms')).toEqual([
      { t: 'rterms', id, terms: expect.objectContaining({ seq: 1, shared: ['RawEvent'] }) },
    ])
  })

  it('answers a subscription once the producer confirms the terms serving it; a late confirmation of older terms does not', async () => {
    const { routes, producer, subscribe, id } = await activeRoute()
    expect(routes.settled()).toBeUndefined()
    await subscribe()
    await subscribe(DeliveryMode.BestEffort)
    let answered = false
    void routes.settled()?.then(() => {
      answered = true
    })
    routes.receive(producer, { t: 'rsync', id, seq: 1 })
    await flushMicrotasks()
    expect(answered).toBe(false)
    routes.receive(producer, { t: 'rsync', id, seq: 2 })
    await flushMicrotasks()
    expect(answered).toBe(true)
    expect(routes.settled()).toBeUndefined()
  })

  it('withdraws the channel of a producer that does not confirm new terms in time, and answers anyway', async () => {
    const { routes, producer, consumer, subscribe, route, framesTo, id } = await activeRoute()
    await subscribe()
    const waiting = routes.settled()
    expect(waiting).toBeDefined()
    await waiting
    expect(route).toMatchObject({
      state: 'waiting',
      reason: 'the producer did not confirm new terms in time',
    })
    for (const end of [producer, consumer])
      expect(framesTo(end, 'unroute')).toEqual([{ t: 'unroute', id, reason: route.reason }])
  }, 10_000)

  it('takes a confirmation that comes after a later one as nothing', async () => {
    const { routes, producer, subscribe, id } = await activeRoute()
    await subscribe()
    await subscribe(DeliveryMode.BestEffort)
    routes.receive(producer, { t: 'rsync', id, seq: 2 })
    routes.receive(producer, { t: 'rsync', id, seq: 1 })
    expect(routes.settled()).toBeUndefined()
  })

  it('takes a closed channel’s late confirmation as nothing: its copies still skip what it covered', async () => {
    const { routes, producer, subscribe, subscription, id } = await activeRoute({ memoryMs: 5_000 })
    await subscribe()
    routes.receive(producer, { t: 'rdown', id, reason: 'the peer went away' })
    routes.receive(producer, { t: 'rsync', id, seq: 1 })
    expect([...routes.skipFor(producer, id, 0)]).toEqual([subscription])
  })

  it('tells the producer which copies of the hub path a channel already delivered, until later terms are confirmed', async () => {
    const { routes, producer, subscribe, subscription, id } = await activeRoute()
    expect([...routes.skipFor(producer, id, 0)]).toEqual([subscription])
    expect(routes.skipFor(producer, id, undefined).size).toBe(0)
    expect(routes.skipFor(producer, id, 7).size).toBe(0)
    const second = await subscribe()
    expect([...routes.skipFor(producer, id, 1)]).toEqual([subscription, second.subscription])
    routes.receive(producer, { t: 'rsync', id, seq: 1 })
    expect(routes.skipFor(producer, id, 0).size).toBe(0)
    expect(routes.skipFor(producer, id, 1).size).toBe(2)
  })
})

describe('the route table: a producer’s reports', () => {
  it('counts a served subscription’s copies in the bus’s metrics and the route’s, and what it published', async () => {
    const { bus, routes, producer, route, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(
      producer,
      rstat(
        id,
        { sid, routed: 5, delivered: 3, failed: 1, deadLettered: 1, queueFull: 1 },
        { published: [{ type: 'RawEvent', count: 5 }], queued: 2, inFlight: 1 },
      ),
    )
    expect(await subscriptionMetrics(sid)).toMatchObject({
      routed: 5,
      delivered: 3,
      failed: 1,
      deadLettered: 1,
      queueFull: 1,
    })
    const metrics = await bus.metrics()
    expect(metrics.types.RawEvent).toMatchObject({ published: 5, queueFull: 1 })
    expect(metrics.modules[ModuleId.DataCapture]).toMatchObject({ published: 5, queueFull: 1 })
    expect(metrics.messagesQueueFull).toBe(1)
    expect(route.metrics()).toMatchObject({
      routed: 5,
      delivered: 3,
      failed: 1,
      deadLettered: 1,
      queueFull: 1,
      queued: 2,
      inFlight: 1,
    })
    expect(route.metrics().deliveredPerSec).toBeGreaterThan(0)
  })

  it('leaves out counts of a subscription the channel never served or a type it does not carry', async () => {
    const { bus, routes, producer, route, sid, id, subscriptionMetrics } = await activeRoute()
    const other = await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['StateChange']),
      DeliveryMode.BestEffort,
      () => {},
    )
    routes.receive(producer, {
      t: 'rstat',
      id,
      report: {
        published: [{ type: 'StateChange', count: 4 }],
        counts: [
          { ...zeroDirectCounts(other, 'RawEvent'), routed: 4 },
          { ...zeroDirectCounts(sid, 'StateChange'), routed: 4 },
        ],
        latency: [],
        queued: 0,
        inFlight: 0,
      },
    })
    expect(await subscriptionMetrics(other)).toMatchObject({ routed: 0 })
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 0 })
    expect((await bus.metrics()).types.StateChange?.published ?? 0).toBe(0)
    expect(route.metrics().routed).toBe(0)
  })

  it('records the latency of a served subscription’s deliveries, and of no other', async () => {
    const { bus, routes, producer, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(
      producer,
      rstat(
        id,
        { sid, routed: 2, delivered: 2 },
        { latency: [{ sid, us: [150, 250], n: [1, 1], sumUs: 400 }] },
      ),
    )
    expect((await subscriptionMetrics(sid)).latency).toMatchObject({ count: 2 })
    expect((await bus.metrics()).deliveryLatency.count).toBe(2)
    routes.receive(
      producer,
      rstat(
        id,
        { sid: 'sub-elsewhere', routed: 1, delivered: 1 },
        { latency: [{ sid: 'sub-elsewhere', us: [150], n: [1], sumUs: 150 }] },
      ),
    )
    expect((await bus.metrics()).deliveryLatency.count).toBe(2)
  })

  it('takes a closed channel’s late report into the counts, not into the route’s queue and flight', async () => {
    const { routes, producer, route, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(producer, { t: 'rdown', id, reason: 'port closed' })
    routes.receive(producer, rstat(id, { sid, routed: 1, delivered: 1 }, { queued: 9, inFlight: 9 }))
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 1, delivered: 1 })
    expect(route.metrics()).toMatchObject({ delivered: 1, queued: 0, inFlight: 0 })
  })

  it('says a producer left messages out of its tail sample', async () => {
    const { routes, producer, sid, id, tailSampled } = await activeRoute()
    routes.receive(producer, rstat(id, { sid }))
    expect(tailSampled()).toBe(0)
    routes.receive(producer, rstat(id, { sid }, { tailSampled: true }))
    expect(tailSampled()).toBe(1)
  })

  it('refuses a report that claims hand-backs, and counts the refusal against the route', async () => {
    const { routes, producer, route, sid, id, subscriptionMetrics } = await activeRoute()
    expect(
      thrownBy(() => routes.receive(producer, rstat(id, { sid, routed: 2, handedBack: 1 }))),
    ).toMatchObject({ kind: 'MessageRejected', message: expect.stringContaining('no hand-backs') })
    expect(route.metrics().refused).toBe(1)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 0 })
  })
})

describe('the route table: frames from whom', () => {
  it('refuses producer frames from anyone but the producer; the consumer’s count against the route, a stranger’s not', async () => {
    const { routes, consumer, route, sid, id } = await activeRoute()
    const stranger = fakeEndpoint(ModuleId.Gamification, CONSUMER_GRANT)
    const frames: EndpointFrame[] = [
      { t: 'rsync', id, seq: 0 },
      rstat(id, { sid, routed: 1 }),
      { t: 'rdown', id, reason: 'no' },
    ]
    for (const frame of frames) {
      expect(thrownBy(() => routes.receive(consumer, frame))).toMatchObject({
        kind: 'Unauthorized',
        module: ModuleId.Storage,
        action: 'publish',
      })
      expect(thrownBy(() => routes.receive(stranger, frame))).toMatchObject({ kind: 'Unauthorized' })
    }
    expect(route.metrics().refused).toBe(frames.length)
    expect(route.state).toBe('active')
  })

  it('refuses consumer frames from anyone but the consumer, the producer included', async () => {
    const { routes, producer, route, sid, id } = await activeRoute()
    const frames: EndpointFrame[] = [
      { t: 'rrel', id, to: sid, ids: ['m1'] },
      { t: 'rfin', id, outcomes: [] },
    ]
    for (const frame of frames) {
      expect(thrownBy(() => routes.receive(producer, frame))).toMatchObject({
        kind: 'Unauthorized',
        module: ModuleId.DataCapture,
        action: 'subscribe',
      })
    }
    expect(route.metrics().refused).toBe(frames.length)
  })

  it('refuses frames about a channel it never opened, and passes on frames that are not about channels', async () => {
    const { routes, producer, route } = await activeRoute()
    expect(thrownBy(() => routes.receive(producer, { t: 'rsync', id: 'nope.1', seq: 0 }))).toMatchObject({
      kind: 'Unauthorized',
    })
    expect(routes.receive(producer, { t: 'ping' })).toBe(false)
    expect(route.metrics().refused).toBe(0)
  })

  it('counts frames one end could not read against the other, and tells that one why', async () => {
    const { routes, producer, consumer, route, id } = await activeRoute()
    expect(
      routes.receive(consumer, { t: 'rbad', id, count: 3, reason: "invalid frame 'dlv': frame.sid" }),
    ).toBe(true)
    expect(producer.unreadable).toEqual([
      {
        count: 3,
        message: expect.stringContaining(
          `3 frames you sent on direct channel ${id} could not be read by ${ModuleId.Storage}, dropped: invalid frame 'dlv': frame.sid`,
        ),
      },
    ])
    routes.receive(producer, { t: 'rbad', id, count: 1, reason: 'undecodable' })
    expect(consumer.unreadable).toEqual([
      { count: 1, message: expect.stringContaining('a frame you sent on direct channel') },
    ])
    expect(route.metrics().refused).toBe(4)
    expect(route.state).toBe('active')
  })

  it('refuses a report of unreadable frames from anyone but the channel’s ends, counting nothing', async () => {
    const { routes, producer, consumer, route, id } = await activeRoute()
    const stranger = fakeEndpoint(ModuleId.Gamification, CONSUMER_GRANT)
    const frame: EndpointFrame = { t: 'rbad', id, count: 2, reason: 'no' }
    expect(thrownBy(() => routes.receive(stranger, frame))).toMatchObject({ kind: 'Unauthorized' })
    expect(thrownBy(() => routes.receive(consumer, { ...frame, id: 'nope.1' }))).toMatchObject({
      kind: 'Unauthorized',
    })
    expect([...producer.unreadable, ...consumer.unreadable]).toEqual([])
    expect(route.metrics().refused).toBe(0)
  })

  it('forgets a closed channel after its memory: its frames are refused then', async () => {
    const { routes, producer, sid, id } = await activeRoute({ memoryMs: 30 })
    routes.receive(producer, { t: 'rdown', id, reason: 'port closed' })
    expect(routes.receive(producer, rstat(id, { sid }))).toBe(true)
    await sleep(100)
    expect(thrownBy(() => routes.receive(producer, rstat(id, { sid })))).toMatchObject({
      kind: 'Unauthorized',
    })
  })
})

describe('the route table: withdrawing a channel', () => {
  it('falls back when the producer says its side closed, and sets the route up again after a pause', async () => {
    // Remembered past the pause, so the old channel's late frames are still taken.
    const { routes, producer, consumer, route, framesTo, pairs, sid, id } = await activeRoute({
      memoryMs: 5_000,
    })
    routes.receive(producer, rstat(id, { sid }, { queued: 3, inFlight: 2 }))
    expect(route.metrics()).toMatchObject({ queued: 3, inFlight: 2 })
    routes.receive(producer, { t: 'rdown', id, reason: 'the peer went away' })
    const reason = 'the channel closed: the peer went away'
    expect(route).toMatchObject({ state: 'waiting', reason })
    expect(route.metrics()).toMatchObject({ fallbacks: 1, queued: 0, inFlight: 0 })
    for (const end of [producer, consumer])
      expect(framesTo(end, 'unroute')).toEqual([{ t: 'unroute', id, reason }])
    expect(pairs).toHaveLength(1)
    await waitFor(() => pairs.length === 2)
    expect(route.state).toBe('establishing')
    expect(route.channel?.id).toBe(`${route.id}.2`)
    expect(route.metrics()).toMatchObject({ established: 2, fallbacks: 1 })
    // The old channel's late word changes nothing.
    routes.receive(producer, { t: 'rdown', id, reason: 'late' })
    expect(route.state).toBe('establishing')
  })

  it('falls back when an end detaches, telling the other, and waits for it to attach again', async () => {
    const { routes, producer, consumer, route, framesTo, pairs, id } = await activeRoute()
    routes.detached(consumer)
    expect(route).toMatchObject({ state: 'waiting', reason: 'waiting for storage to attach over ports' })
    expect(route.metrics().fallbacks).toBe(1)
    expect(framesTo(producer, 'unroute')).toEqual([{ t: 'unroute', id, reason: 'storage detached' }])
    expect(framesTo(consumer, 'unroute')).toEqual([])
    await sleep(PAST_RESTART_DELAY_MS)
    expect(pairs).toHaveLength(1)
    routes.attached(consumer)
    expect(route.state).toBe('establishing')
    expect(pairs).toHaveLength(2)
  })

  it('leaves a route alone when an endpoint that is not one of its ends detaches', async () => {
    const { routes, route } = await activeRoute()
    routes.detached(fakeEndpoint(ModuleId.Storage, CONSUMER_GRANT))
    expect(route.state).toBe('active')
  })

  it('revokes a route for good, once: traffic takes the hub path, and neither end brings it back', async () => {
    const { routes, producer, consumer, route, framesTo, pairs, id } = await activeRoute()
    route.revoke('permission changed')
    expect(route).toMatchObject({ state: 'revoked', reason: 'permission changed' })
    for (const end of [producer, consumer])
      expect(framesTo(end, 'unroute')).toEqual([{ t: 'unroute', id, reason: 'permission changed' }])
    route.revoke('again')
    expect(route).toMatchObject({ state: 'revoked', reason: 'permission changed' })
    expect(route.metrics().fallbacks).toBe(1)
    routes.attached(producer)
    routes.attached(consumer)
    await sleep(PAST_RESTART_DELAY_MS)
    expect(pairs).toHaveLength(1)
    expect(route.state).toBe('revoked')
  })

  it('a route revoked before its ends attached is never set up', async () => {
    const { declare, attachBoth, pairs, producer } = await table()
    const route = declare()
    route.revoke()
    attachBoth()
    expect(route.state).toBe('revoked')
    expect(pairs).toEqual([])
    expect(producer.handed).toEqual([])
  })

  it('a route revoked while it waits to be set up again stays down, its restart timer cleared', async () => {
    const { routes, producer, route, pairs, id } = await activeRoute()
    useFakeClock()
    routes.receive(producer, { t: 'rdown', id, reason: 'gone' })
    const pending = vi.getTimerCount() // the restart's among them
    route.revoke()
    expect(route).toMatchObject({ state: 'revoked', reason: 'revoked by the main process' })
    expect(vi.getTimerCount()).toBe(pending - 1)
    await advance(PAST_RESTART_DELAY_MS)
    expect(pairs).toHaveLength(1)
  })

  it('sets a route up again once after its pause, however often its ends attach meanwhile', async () => {
    const { routes, producer, consumer, route, pairs, id } = await activeRoute()
    useFakeClock()
    routes.receive(producer, { t: 'rdown', id, reason: 'gone' })
    const pending = vi.getTimerCount()
    routes.attached(consumer)
    routes.attached(producer)
    expect(vi.getTimerCount()).toBe(pending)
    await advance(PAST_RESTART_DELAY_MS)
    expect(pairs).toHaveLength(2)
    expect(route.state).toBe('establishing')
  })

  it('revokes every route when the hub closes, those not yet set up included', async () => {
    const { routes, declare, route } = await activeRoute()
    const other = declare({ ...HOT_PATH, producer: ModuleId.AnalysisEngine })
    routes.close()
    for (const each of [route, other])
      expect(each).toMatchObject({ state: 'revoked', reason: 'the hub closed' })
  })
})

describe('the route table: shutting down', () => {
  it('revokes every route and waits for each channel’s producer to send its final counts', async () => {
    const { routes, producer, route, sid, id } = await activeRoute()
    let settled = false
    const waiting = routes.shutDown()
    expect(route).toMatchObject({ state: 'revoked', reason: 'the bus is shutting down' })
    void waiting?.then(() => {
      settled = true
    })
    routes.receive(producer, rstat(id, { sid, routed: 1, delivered: 1 }))
    await flushMicrotasks()
    expect(settled).toBe(false)
    routes.receive(producer, rstat(id, { sid }, { final: true }))
    await flushMicrotasks()
    expect(settled).toBe(true)
  })

  it('has nothing to wait for without channels, or once their producers are gone', async () => {
    const plain = await table()
    plain.declare()
    expect(plain.routes.shutDown()).toBeUndefined()
    const { routes, producer, consumer } = await activeRoute()
    routes.detached(producer)
    routes.detached(consumer)
    expect(routes.shutDown()).toBeUndefined()
  })
})

describe('the route table: dead letters from the producer', () => {
  const failure = {
    reason: 'MaxRetriesExceeded',
    attempts: 3,
    error: 'Error: disk full',
    firstFailedAt: 1_700_000_000_000,
  } as const

  it('stores a delivery its producer gave up on, for the consumer, with its reason', async () => {
    const { bus, routes, producer, sid, id } = await activeRoute()
    const msg = rawEventFrom()
    routes.receive(producer, { t: 'rdead', id, sid, msg, ...failure })
    expect(bus.deadLetters.list()).toEqual([
      expect.objectContaining({
        message: msg,
        subscriptionId: sid,
        module: ModuleId.Storage,
        reason: 'MaxRetriesExceeded',
        attempts: 3,
        lastError: 'Error: disk full',
        firstFailedAt: new Date(failure.firstFailedAt),
      }),
    ])
  })

  it('refuses, storing nothing, a dead letter for a subscription the channel never served, another module’s or another type’s', async () => {
    const { bus, routes, producer, route, sid, id } = await activeRoute()
    const frames: EndpointFrame[] = [
      { t: 'rdead', id, sid: 'sub-elsewhere', msg: rawEventFrom(), ...failure },
      { t: 'rdead', id, sid, msg: rawEventFrom(ModuleId.Gamification), ...failure },
      {
        t: 'rdead',
        id,
        sid,
        msg: BusMessage.create(ModuleId.DataCapture, MessagePayload.StateChange(validData.StateChange())),
        ...failure,
      },
    ]
    for (const frame of frames)
      expect(thrownBy(() => routes.receive(producer, frame))).toMatchObject({ kind: 'Unauthorized' })
    expect(bus.deadLetters.list()).toEqual([])
    expect(route.metrics().refused).toBe(frames.length)
  })
})

describe('the route table: a producer that goes without its final counts', () => {
  it('counts what its consumer saw and it never reported, once the consumer’s final counts come', async () => {
    const { bus, routes, producer, consumer, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(
      producer,
      rstat(id, { sid, routed: 2, sent: 2, delivered: 1 }, { published: [{ type: 'RawEvent', count: 2 }] }),
    )
    routes.detached(producer)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 2, delivered: 1 })
    routes.receive(consumer, {
      t: 'rfin',
      id,
      outcomes: [
        { ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 5, delivered: 4, failed: 1, dropped: 1 },
      ],
    })
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 5, delivered: 4, dropped: 1 })
    expect((await bus.metrics()).types.RawEvent?.published).toBe(5)
    // Counted once: the same counts again change nothing.
    routes.receive(consumer, {
      t: 'rfin',
      id,
      outcomes: [
        { ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 5, delivered: 4, failed: 1, dropped: 1 },
      ],
    })
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 5, delivered: 4 })
  })

  it('uses the counts its consumer sent as its side closed, if the consumer goes before its final ones', async () => {
    const { routes, producer, consumer, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(consumer, {
      t: 'rfin',
      id,
      provisional: true,
      outcomes: [{ ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 3, delivered: 2, dropped: 1 }],
    })
    routes.detached(producer)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 0 })
    routes.detached(consumer)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 3, delivered: 2, dropped: 1 })
  })

  it('trusts a final report over the consumer’s counts, those it sent as its side closed included', async () => {
    const { routes, producer, consumer, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(consumer, {
      t: 'rfin',
      id,
      provisional: true,
      outcomes: [{ ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 7, delivered: 7 }],
    })
    routes.receive(producer, rstat(id, { sid, routed: 2, delivered: 2 }, { final: true }))
    routes.detached(producer)
    routes.receive(consumer, {
      t: 'rfin',
      id,
      outcomes: [{ ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 9, delivered: 9 }],
    })
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 2, delivered: 2 })
  })

  it('refuses final counts of a subscription or type the channel never served', async () => {
    const { routes, consumer, route, sid, id } = await activeRoute()
    for (const outcome of [
      zeroChannelOutcomes('sub-elsewhere', 'RawEvent'),
      zeroChannelOutcomes(sid, 'StateChange'),
    ]) {
      expect(thrownBy(() => routes.receive(consumer, { t: 'rfin', id, outcomes: [outcome] }))).toMatchObject({
        kind: 'MessageRejected',
        reason: `rfin: channel ${id} never delivered '${outcome.type}' to subscription ${outcome.sid}`,
      })
    }
    expect(route.metrics().refused).toBe(2)
  })
})

describe('the route table: hand-backs and holds', () => {
  it('refuses a consumer’s hand-back that counts attempts, and anyone’s but the channel’s ends', async () => {
    const { routes, producer, consumer, route, sid, id } = await activeRoute()
    const msg = rawEventFrom()
    const prior = { attempts: 1, error: 'Error: x', firstFailedAt: 1 }
    expect(thrownBy(() => routes.handBack(consumer, id, sid, msg, false, prior))).toMatchObject({
      kind: 'MessageRejected',
      reason: `only channel ${id}'s producer counts attempts: its consumer's hand-back carries no \`prior\``,
    })
    const stranger = fakeEndpoint(ModuleId.Gamification, PRODUCER_GRANT)
    expect(thrownBy(() => routes.handBack(stranger, id, sid, msg))).toMatchObject({ kind: 'Unauthorized' })
    expect(thrownBy(() => routes.hold(producer, id, sid, msg, false))).toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.DataCapture,
      action: 'subscribe',
    })
    expect(route.metrics().refused).toBe(2)
    expect(route.metrics().held).toBe(0)
  })

  it('counts what it holds for a route’s channels', async () => {
    const { routes, consumer, route, sid, id } = await activeRoute()
    routes.hold(consumer, id, sid, rawEventFrom(), false)
    routes.hold(consumer, id, sid, rawEventFrom(), false)
    expect(route.metrics().held).toBe(2)
    expect(routes.heldFor(route)).toBe(2)
  })

  it('queues a producer’s hand-back again on the hub path, counted against the route', async () => {
    const { routes, producer, route, sid, id, subscriptionMetrics } = await activeRoute()
    routes.receive(producer, rstat(id, { sid, routed: 1 }))
    routes.handBack(producer, id, sid, rawEventFrom())
    await waitFor(async () => (await subscriptionMetrics(sid)).delivered === 1)
    expect(route.metrics().handedBack).toBe(1)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 1, delivered: 1 })
  })
})

describe('the route table: a producer that goes without its final counts, more', () => {
  it('takes its consumer’s first final counts, not a second set', async () => {
    const { routes, producer, consumer, sid, id, subscriptionMetrics } = await activeRoute()
    for (const arrived of [2, 9]) {
      routes.receive(consumer, {
        t: 'rfin',
        id,
        outcomes: [{ ...zeroChannelOutcomes(sid, 'RawEvent'), arrived, delivered: arrived }],
      })
    }
    routes.detached(producer)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 2, delivered: 2 })
  })

  it('counts as published the most copies any one served subscription got, for a type only the channel carried', async () => {
    const { bus, routes, producer, consumer, subscribe, sid, id } = await activeRoute()
    const second = await subscribe(DeliveryMode.BestEffort)
    routes.receive(consumer, {
      t: 'rfin',
      id,
      outcomes: [
        { ...zeroChannelOutcomes(second.sid, 'RawEvent'), arrived: 5, delivered: 5 },
        { ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 3, delivered: 3 },
      ],
    })
    routes.detached(producer)
    expect((await bus.metrics()).types.RawEvent?.published).toBe(5)
  })

  it('counts no publishes of a type other subscribers took through the hub (the hub counted those)', async () => {
    const { bus, routes, producer, consumer, sid, id, subscriptionMetrics, subscribeElsewhere } =
      await activeRoute()
    await subscribeElsewhere()
    routes.receive(consumer, {
      t: 'rfin',
      id,
      outcomes: [{ ...zeroChannelOutcomes(sid, 'RawEvent'), arrived: 4, delivered: 4 }],
    })
    routes.detached(producer)
    expect(await subscriptionMetrics(sid)).toMatchObject({ routed: 4, delivered: 4 })
    expect((await bus.metrics()).types.RawEvent?.published ?? 0).toBe(0)
  })

  it('requeues at once what it held for a producer that sent its final report before it went', async () => {
    const context = await table({ memoryMs: 5_000 })
    const received: string[] = []
    const { sid } = await context.subscribe(DeliveryMode.Reliable(), (message) => received.push(message.id))
    const route = context.declare()
    context.attachBoth()
    await context.confirm(route)
    const { routes, producer, consumer } = context
    const id = context.channelId(route)
    const msg = rawEventFrom()
    routes.receive(producer, rstat(id, { sid, routed: 1, sent: 1, failed: 1 }))
    routes.hold(consumer, id, sid, msg, false)
    routes.receive(producer, rstat(id, { sid }, { final: true }))
    routes.detached(producer)
    await waitFor(() => received.length === 1, 1_000)
    expect(received).toEqual([msg.id])
  })
})

describe('the route table: what it holds, by route', () => {
  it('counts for each route only what it holds for that route’s channels', async () => {
    const { routes, declare, consumer, confirm, channelId, subscribe, route, sid, id } = await activeRoute()
    const states = await subscribe(DeliveryMode.Reliable(), () => {}, MessageFilter.types(['StateChange']))
    const other = declare({ ...HOT_PATH, types: ['StateChange'] })
    await waitFor(() => other.channel !== undefined)
    await confirm(other)
    routes.hold(consumer, id, sid, rawEventFrom(), false)
    expect(route.metrics().held).toBe(1)
    expect(other.metrics().held).toBe(0)
    routes.hold(
      consumer,
      channelId(other),
      states.sid,
      BusMessage.create(ModuleId.DataCapture, MessagePayload.StateChange(validData.StateChange())),
      false,
    )
    expect(routes.heldFor(route)).toBe(1)
    expect(routes.heldFor(other)).toBe(1)
  })
})
