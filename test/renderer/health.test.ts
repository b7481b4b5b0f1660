import { describe, expect, it } from 'vitest'
import {
  misbehavingConnections,
  routeBacklogNote,
  TROUBLE_WINDOW_SECONDS,
  troubleFinder,
  verdict,
} from '../../src/renderer/inspector/health.js'
import type {
  BusMetrics,
  ConnectionMetrics,
  RouteMetrics,
  SubscriptionMetrics,
} from '../../src/shared/metrics-snapshot.js'
import type { ModuleInfo } from '../../src/shared/registry-types.js'

type Outcomes = Pick<SubscriptionMetrics, 'delivered' | 'failed' | 'deadLettered' | 'queueFull'>

/** One subscription, quiet and idle but for the outcomes given. */
const subscription = (id: string, outcomes: Partial<Outcomes>) =>
  ({
    id,
    parked: false,
    queueDepth: 0,
    inFlight: 0,
    slowHandlers: 0,
    recentLatency: { count: 0, p95Ms: 0 },
    delivered: 0,
    failed: 0,
    deadLettered: 0,
    queueFull: 0,
    ...outcomes,
  }) as SubscriptionMetrics

/** Latency percentiles with just what the judgements read: how many, and the p95. */
const latency = (count: number, p95Ms: number) => ({ count, p95Ms }) as SubscriptionMetrics['recentLatency']

/** A history entry at `time` seconds holding `subscriptions`: just what the judgement reads. */
const sample = (time: number, ...subscriptions: SubscriptionMetrics[]) => ({
  time,
  metrics: { maxQueueSize: 100, subscriptions } as unknown as BusMetrics,
})

describe('which subscriptions the inspector calls in trouble', () => {
  it('judges failures and dead letters over its whole life until the history reaches back far enough', () => {
    const trouble = troubleFinder([
      sample(100, subscription('s', { failed: 3 })),
      sample(101, subscription('s', { failed: 3 })),
    ])
    expect(trouble(subscription('s', { failed: 3 }))).toBe('failing')
    expect(trouble(subscription('t', { delivered: 9, deadLettered: 1 }))).toBe('dead-lettering')
    expect(trouble(subscription('u', { delivered: 9, failed: 2 }))).toBeUndefined()
  })

  it('forgets a dead letter older than the window once it has watched that long', () => {
    const old = subscription('s', { delivered: 50, deadLettered: 1 })
    const now = 200
    const trouble = troubleFinder([
      sample(now - TROUBLE_WINDOW_SECONDS - 5, old),
      sample(now - TROUBLE_WINDOW_SECONDS, old),
      sample(now, subscription('s', { delivered: 80, deadLettered: 1 })),
    ])
    expect(trouble(subscription('s', { delivered: 80, deadLettered: 1 }))).toBeUndefined()
    expect(trouble(subscription('s', { delivered: 80, deadLettered: 2 }))).toBe('dead-lettering')
  })

  it('calls a subscriber that worked for long and now fails every message failing', () => {
    const now = 4_000
    const trouble = troubleFinder([
      sample(now - TROUBLE_WINDOW_SECONDS - 1, subscription('s', { delivered: 1_000, failed: 4 })),
      sample(now, subscription('s', { delivered: 1_000, failed: 60 })),
    ])
    expect(trouble(subscription('s', { delivered: 1_000, failed: 60 }))).toBe('failing')
    // One delivery in the window: it is flaky, not failing.
    expect(trouble(subscription('s', { delivered: 1_001, failed: 60 }))).toBeUndefined()
  })

  it('calls a subscription whose full queue refused publishes within the window full', () => {
    const now = 900
    const trouble = troubleFinder([
      sample(now - TROUBLE_WINDOW_SECONDS - 1, subscription('s', { delivered: 10, queueFull: 7 })),
      sample(now, subscription('s', { delivered: 90, queueFull: 7 })),
    ])
    expect(trouble(subscription('s', { delivered: 90, queueFull: 7 }))).toBeUndefined() // long ago
    expect(trouble(subscription('s', { delivered: 90, queueFull: 8 }))).toBe('full, refusing publishes')
  })

  it('counts all of a subscription younger than the window as recent', () => {
    const now = 500
    const trouble = troubleFinder([
      sample(now - TROUBLE_WINDOW_SECONDS - 1, subscription('old', { delivered: 5 })),
      sample(now, subscription('new', { failed: 2 })),
    ])
    expect(trouble(subscription('new', { failed: 2 }))).toBe('failing')
  })

  it('judges the state now whatever the window: parked, a queue nearly full', () => {
    const trouble = troubleFinder([sample(1)])
    expect(trouble({ ...subscription('s', {}), parked: true })).toBe('parked, endpoint away')
    expect(trouble({ ...subscription('s', {}), queueDepth: 80 })).toBe('queue nearly full')
    expect(trouble({ ...subscription('s', {}), queueDepth: 79 })).toBeUndefined()
  })

  it('calls a subscription stuck while it holds copies, runs some and finished none in the last interval', () => {
    const trouble = troubleFinder([sample(1)])
    const holding = { ...subscription('s', {}), queueDepth: 3, inFlight: 1 }
    expect(trouble(holding)).toBe('stuck')
    // One delivery in the interval, nothing running, or nothing waiting: it moves, or has nothing to move.
    expect(trouble({ ...holding, recentLatency: latency(1, 5) })).toBeUndefined()
    expect(trouble({ ...holding, inFlight: 0 })).toBeUndefined()
    expect(trouble({ ...holding, queueDepth: 0 })).toBeUndefined()
  })

  it('calls a handler slow only while the recent p95 is 100 ms or more, whatever it counted before', () => {
    const trouble = troubleFinder([sample(1)])
    const slowOnce = { ...subscription('s', {}), slowHandlers: 3 }
    expect(trouble({ ...slowOnce, recentLatency: latency(5, 99.9) })).toBeUndefined()
    expect(trouble({ ...slowOnce, recentLatency: latency(5, 100) })).toBe('slow handler')
  })

  it('with no snapshot yet, calls nothing in trouble for its queue', () => {
    expect(troubleFinder([])(subscription('s', {}))).toBeUndefined()
  })
})

describe('the health verdict', () => {
  const quietLatency = { count: 0, p95Ms: 0 }
  const metrics = (
    subscriptions: SubscriptionMetrics[],
    routes: Partial<RouteMetrics>[] = [],
    at = { seconds: 0, queueFull: 0 },
    modules: Partial<ModuleInfo>[] = [],
  ) =>
    ({
      registry: { modules },
      maxQueueSize: 10_000,
      subscriptions,
      routes,
      recentLatency: quietLatency,
      deliveryLatency: quietLatency,
      messagesQueueFull: at.queueFull,
      collectedAt: new Date(at.seconds * 1000),
    }) as unknown as BusMetrics

  it('counts a direct route’s backlog as the queue it is', () => {
    // A consumer falling behind a direct route: its subscription holds nothing, the producer holds it all.
    const behind = metrics(
      [{ ...subscription('s', {}), module: 'storage' }],
      [{ producer: 'data-capture', consumer: 'storage', queued: 9_944 }],
    )
    expect(verdict(behind)).toEqual({
      healthy: false,
      reasons: ["the data-capture → storage route's backlog holds 9944 of 10000"],
    })
  })

  it('names the fullest subscription queue, and is healthy under 80 %', () => {
    const storage = { ...subscription('s', {}), module: 'storage', queueDepth: 8_000 }
    expect(verdict(metrics([storage])).reasons).toEqual(["storage's queue holds 8000 of 10000"])
    expect(verdict(metrics([{ ...storage, queueDepth: 7_999 }], [{ queued: 7_999 }])).healthy).toBe(true)
  })

  it('is degraded while publishes are refused for a full queue, which it names, whatever the depth now', () => {
    // A direct route's backlog refuses publishes, and its consumer drains it between snapshots.
    const storage = (queueFull: number) => ({ ...subscription('s', { queueFull }), module: 'storage' })
    const before = metrics([storage(100), subscription('t', {})], [], { seconds: 10, queueFull: 100 })
    const now = metrics([storage(6_100), subscription('t', {})], [{ queued: 12 }], {
      seconds: 12,
      queueFull: 6_100,
    })
    expect(verdict(now, before)).toEqual({
      healthy: false,
      reasons: ["3,000 publishes/s refused: a queue is full (storage's)"],
    })
    // Nothing refused since the snapshot before (or none before it): healthy.
    expect(verdict(now, now).healthy).toBe(true)
    expect(verdict(now).reasons).toEqual([
      'queues under 80 %, nothing refused, modules well, p95 under 100 ms',
    ])
  })

  it('judges the p95 of recent deliveries while there are any, else of every delivery; 100 ms is too slow', () => {
    const withLatency = (recentP95: number, recentCount: number, lifetimeP95: number): BusMetrics => ({
      ...metrics([]),
      recentLatency: latency(recentCount, recentP95),
      deliveryLatency: latency(100, lifetimeP95),
    })
    expect(verdict(withLatency(5, 10, 900)).healthy).toBe(true) // slow long ago, quick now
    expect(verdict(withLatency(0, 0, 100)).reasons).toEqual(['delivery p95 is 100.0 ms'])
    expect(verdict(withLatency(99.9, 10, 0)).healthy).toBe(true)
  })

  it('names a module whose full queues refused publishes once, however many of its subscriptions did', () => {
    const storage = (id: string, queueFull: number) => ({
      ...subscription(id, { queueFull }),
      module: 'storage',
    })
    const before = metrics([storage('s', 0), storage('t', 0)], [], { seconds: 10, queueFull: 0 })
    const now = metrics([storage('s', 5), storage('t', 5)], [], { seconds: 11, queueFull: 10 })
    expect(verdict(now, before).reasons).toEqual(["10 publishes/s refused: a queue is full (storage's)"])
  })

  it('is degraded while a module is Unhealthy or Degraded, and says which and how often it restarted', () => {
    const quiet = { seconds: 0, queueFull: 0 }
    const modules = [
      { moduleId: 'storage', status: 'Unhealthy', restarts: 7 },
      { moduleId: 'gamification', status: 'Degraded' },
      { moduleId: 'ai-integration', status: 'Starting', restarts: 1 },
      { moduleId: 'data-capture', status: 'Stopped' },
      { moduleId: 'analysis-engine', status: 'Healthy', restarts: 1 },
    ] as Partial<ModuleInfo>[]
    expect(verdict(metrics([], [], quiet, modules))).toEqual({
      healthy: false,
      reasons: ['storage is Unhealthy (restarted 7 times)', 'gamification is Degraded'],
    })
  })

  it('notes, for the subscriptions view, copies waiting at a direct route’s producer', () => {
    expect(routeBacklogNote(metrics([], [{ producer: 'a', consumer: 'b', queued: 0 }]))).toBeUndefined()
    expect(
      routeBacklogNote(
        metrics(
          [],
          [
            { producer: 'data-capture', consumer: 'storage', queued: 9_944 },
            { producer: 'analysis-engine', consumer: 'gamification', queued: 1 },
          ],
        ),
      ),
    ).toBe(
      "9,945 copies wait at direct routes' producers (data-capture → storage, analysis-engine → gamification), outside these queues: see Routes.",
    )
  })
})

describe('which connections the inspector calls misbehaving', () => {
  const since = new Date(1_000)
  const connection = (module: string, badFrames: number, attachedAt = since) =>
    ({ module, attachedAt, badFrames }) as ConnectionMetrics
  const at = (time: number, ...connections: ConnectionMetrics[]) => ({
    time,
    metrics: { connections } as unknown as BusMetrics,
  })

  it('names those whose bad frames grew over the window, with how many, and no other', () => {
    const now = 500
    const history = [
      at(now - TROUBLE_WINDOW_SECONDS, connection('old-offender', 7), connection('tracker', 1)),
      at(
        now,
        connection('old-offender', 7),
        connection('tracker', 5),
        connection('fresh', 1),
        connection('quiet', 0),
      ),
    ]
    expect(misbehavingConnections(history)).toEqual(['tracker (4 bad frames)', 'fresh (1 bad frame)'])
  })

  it('counts all of a connection attached again since the baseline, as a new one', () => {
    const history = [
      at(100, connection('tracker', 3)),
      at(100 + TROUBLE_WINDOW_SECONDS, connection('tracker', 2, new Date(90_000))),
    ]
    expect(misbehavingConnections(history)).toEqual(['tracker (2 bad frames)'])
  })

  it('says nothing of a snapshot without connections (one that did not come through a hub)', () => {
    expect(misbehavingConnections([at(1)])).toEqual([])
    expect(misbehavingConnections([{ time: 1, metrics: {} as BusMetrics }])).toEqual([])
  })
})
