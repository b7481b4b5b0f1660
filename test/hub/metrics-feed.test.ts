/**
 * The hub's metrics feed keeps a bounded history of charted points whether or not anyone watches,
 * without taking whole snapshots for it, and stops with the hub.
 */
import { expect, it, vi } from 'vitest'
import { LATENCIES_PER_POINT } from '../../src/main/bus/event-bus.js'
import {
  createEventBus,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  type MessageType,
  ModuleId,
} from '../../src/main/bus/index.js'
import { busInternals, type WithInternals } from '../../src/main/bus/internal.js'
import { MetricsFeed } from '../../src/main/hub/metrics-feed.js'
import { rawMessage, stallThisThread, waitFor } from '../helpers.js'
import { afterThisTest } from './fixture.js'

/** A started bus taking a point every `intervalMs`, shut down after the test. */
async function startedBus(intervalMs: number, workers?: number): Promise<EventBus> {
  const bus = createEventBus({ metricsIntervalMs: intervalMs, workers })
  await bus.start()
  afterThisTest(() => bus.shutdown({ drainTimeoutMs: 0 }))
  return bus
}

/** The hub's feed over `bus`, closed after the test. */
function feedOver(bus: EventBus, historySize?: number, snapshotShare?: number): MetricsFeed {
  const feed = new MetricsFeed(bus, (bus as unknown as WithInternals)[busInternals], {
    historySize,
    snapshotShare,
  })
  afterThisTest(() => feed.close())
  return feed
}

/** Subscribes `module` to `type` with a handler that settles at once; resolves with its id. */
function quickSubscriber(bus: EventBus, module: string, type: MessageType): Promise<string> {
  return bus.subscribe(module, MessageFilter.types([type]), DeliveryMode.BestEffort, () => {})
}

/** Makes each of `bus`'s snapshots take `ms` of the thread. @returns the spy that counts them */
function slowSnapshots(bus: EventBus, ms: number) {
  const metrics = bus.metrics.bind(bus)
  return vi.spyOn(bus, 'metrics').mockImplementation(() => {
    stallThisThread(ms)
    return metrics()
  })
}

it('keeps the latest points only, unwatched, and takes none once closed', async () => {
  const bus = await startedBus(10)
  const snapshots = vi.spyOn(bus, 'metrics')
  const feed = feedOver(bus, 3)
  await waitFor(() => feed.history().length === 3)
  expect(snapshots).not.toHaveBeenCalled() // nobody watches: points only
  const first = feed.history()[0]?.collectedAt.getTime() ?? 0
  await waitFor(() => (feed.history()[0]?.collectedAt.getTime() ?? 0) > first) // the oldest went
  expect(feed.history()).toHaveLength(3)
  let watched = 0
  feed.watch(() => watched++)
  feed.close()
  const kept = feed.history()
  kept.pop() // a copy: what the caller does with it changes nothing kept
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(feed.history()).toHaveLength(3)
  expect(feed.history().slice(0, 2)).toEqual(kept)
  expect(watched).toBeLessThanOrEqual(1) // a snapshot already under way when it closed, at most
})

it('lists in each point the subscriptions with copies queued or in flight, and those that delivered with their latency, and no other', async () => {
  // Three workers: the stuck subscription holds its three copies in flight, none queued.
  const bus = await startedBus(10, 3)
  const stuck = await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.Reliable({ timeoutMs: 60_000 }),
    () => new Promise<void>(() => {}), // settles no copy: each stays in flight or queued
  )
  const quick = await quickSubscriber(bus, ModuleId.AnalysisEngine, 'RawEvent')
  // Never matched: it delivers nothing and holds nothing.
  await quickSubscriber(bus, ModuleId.Gamification, 'StateChange')
  const feed = feedOver(bus)
  const pointListing = (id: string) =>
    feed
      .history()
      .flatMap((point) => point.busySubscriptions ?? [])
      .find((busy) => busy.id === id)
  for (let i = 0; i < 3; i++) await bus.publish(rawMessage())
  // The point whose interval measured the three deliveries lists the quick one with their latency,
  // nothing queued: the latency a snapshot gave for that interval.
  await waitFor(() => pointListing(quick) !== undefined)
  expect(pointListing(quick)).toMatchObject({ queueDepth: 0, inFlight: 0, recentLatency: { count: 3 } })
  const copiesHeld = () =>
    feed
      .history()
      .at(-1)
      ?.busySubscriptions?.reduce((sum, busy) => sum + busy.queueDepth + busy.inFlight, 0)
  await waitFor(() => copiesHeld() === 3)
  const { queueDepth, inFlight } = (await bus.metrics()).subscriptions.find((s) => s.id === stuck) ?? {}
  // Later points list the stuck one alone: the quick one delivered nothing in their intervals.
  await waitFor(() => feed.history().at(-1)?.busySubscriptions?.length === 1)
  expect(feed.history().at(-1)?.busySubscriptions).toEqual([{ id: stuck, queueDepth, inFlight }])
  expect({ queueDepth, inFlight }).toEqual({ queueDepth: 0, inFlight: 3 })
  // Each point also counts the publishes of each type, as a snapshot's type counters do.
  expect(feed.history().at(-1)?.publishedByType).toEqual({ RawEvent: 3 })
  // A whole snapshot says as much for every subscription, and carries no such list.
  expect(await bus.metrics()).not.toHaveProperty('busySubscriptions')
})

it('carries the latency of LATENCIES_PER_POINT subscriptions at most in a point, the oldest first', async () => {
  const bus = await startedBus(100)
  const ids: string[] = []
  for (let i = 0; i <= LATENCIES_PER_POINT; i++)
    ids.push(await quickSubscriber(bus, ModuleId.Storage, 'RawEvent'))
  const feed = feedOver(bus)
  await bus.publish(rawMessage())
  await waitFor(() => feed.history().some((point) => (point.busySubscriptions?.length ?? 0) > 0), 2_000)
  const listed = feed.history().find((point) => (point.busySubscriptions?.length ?? 0) > 0)?.busySubscriptions
  expect(listed?.map((busy) => busy.id)).toEqual(ids.slice(0, LATENCIES_PER_POINT))
  expect(listed?.every((busy) => busy.recentLatency?.count === 1)).toBe(true)
})

it('spaces whole snapshots out when each takes more than its share of the hub’s thread, not points', async () => {
  const bus = await startedBus(10)
  // Each snapshot takes 5 ms of the thread: at a 10 % share, the next may come 50 ms later at
  // the soonest (less a tenth of an interval), where the interval would take one every 10 ms.
  const snapshots = slowSnapshots(bus, 5)
  const feed = feedOver(bus, 1_000, 0.1)
  const seen: number[] = []
  feed.watch((snapshot) => seen.push(snapshot.collectedAt.getTime()))
  await waitFor(() => feed.history().length >= 30)
  feed.close()
  const taken = snapshots.mock.calls.length
  // and no sparser than the share asks: ~6 in 30 intervals here, 2 at the default share's spacing
  expect(taken).toBeGreaterThanOrEqual(3)
  expect(taken).toBeLessThanOrEqual(Math.ceil(feed.history().length / 4))
  const gaps = seen.slice(1).map((time, i) => time - (seen[i] ?? 0))
  expect(gaps.every((gap) => gap >= 45)).toBe(true) // 49 ms apart at least, on a clock of whole ms
})

it('says in its points and the snapshots it streams how busy the hub’s thread was, and bus.metrics() does not', async () => {
  const bus = await startedBus(20)
  const feed = feedOver(bus)
  const streamed: (number | undefined)[] = []
  feed.watch((snapshot) => streamed.push(snapshot.hubBusy))
  // Ten idle intervals first: a point measuring from the feed's start, not from the point before,
  // would give the stall below a quarter of its time.
  await waitFor(() => feed.history().length >= 10)
  const pointsBefore = feed.history().length
  stallThisThread(60) // three intervals' time
  await waitFor(() => feed.history().length > pointsBefore)
  const busy = feed.history()[pointsBefore]?.hubBusy ?? 0
  expect(busy).toBeGreaterThan(0.5)
  expect(busy).toBeLessThanOrEqual(1)
  expect(feed.history().every((point) => point.hubBusy !== undefined && point.hubBusy >= 0)).toBe(true)
  await waitFor(() => streamed.length >= 2)
  expect(streamed.every((share) => share !== undefined && share >= 0 && share <= 1)).toBe(true)
  expect(await bus.metrics()).not.toHaveProperty('hubBusy')
})

it('gives a window that starts watching its first snapshot at the next interval, however spaced they are', async () => {
  const bus = await startedBus(10)
  // 20 ms a snapshot at a 10 % share: the next may come ~200 ms after one begins.
  slowSnapshots(bus, 20)
  const feed = feedOver(bus, 1_000, 0.1)
  let firstWatcher = 0
  feed.watch(() => firstWatcher++)
  await waitFor(() => firstWatcher === 1)
  const watchedAt = performance.now()
  let firstSnapshotAfter: number | undefined
  feed.watch(() => {
    firstSnapshotAfter ??= performance.now() - watchedAt
  })
  await waitFor(() => firstSnapshotAfter !== undefined)
  expect(firstSnapshotAfter).toBeLessThan(150) // the spacing alone would have held it ~180 ms
  expect(firstWatcher).toBeGreaterThanOrEqual(2) // that snapshot went to every watcher
})

it('stops giving snapshots to a watcher that stopped, and gives them to the others still', async () => {
  const bus = await startedBus(10)
  const feed = feedOver(bus)
  const seen = { stopped: 0, staying: 0 }
  const stop = feed.watch(() => seen.stopped++)
  feed.watch(() => seen.staying++)
  await waitFor(() => seen.stopped > 0)
  stop()
  const [stoppedAt, stayingAt] = [seen.stopped, seen.staying]
  await waitFor(() => seen.staying >= stayingAt + 3)
  expect(seen.stopped).toBe(stoppedAt)
})
