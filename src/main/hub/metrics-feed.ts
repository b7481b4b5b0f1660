/**
 * The hub's metrics feed. Once per metrics interval, for the hub's whole life, it keeps the
 * charted fields of the bus's state (a point: counters, queue depth, in flight, the interval's
 * latency, the queue of each subscription with copies queued or in flight, and the interval's
 * latency of each that delivered), the last two minutes of them, so an inspector opened now draws
 * what came before it. A point walks only the subscriptions' counts, and reads the latency of those
 * that delivered in its interval, up to `LATENCIES_PER_POINT` of them (~75 µs each), so it costs
 * little whatever the bus holds (measured with 1,000 subscriptions all holding copies: ~0.1 ms a
 * point, ~7 MB for two minutes of them). While
 * inspecting endpoints stream metrics, it also takes one whole `bus.metrics()` snapshot for all of
 * them (each used to take its own, on its own timer), each interval or less often, as
 * {@link SNAPSHOT_SHARE} allows, and gives each point and streamed snapshot `hubBusy`.
 */

import type { EventLoopUtilityFunction } from 'node:perf_hooks'
import { monotonicMs } from '../../shared/clock.js'
import type { BusMetrics, MetricsPoint } from '../../shared/metrics-snapshot.js'
import { unrefTimer } from '../../shared/peer-timers.js'
import type { EventBus } from '../bus/index.js'
import type { BusInternals } from '../bus/internal.js'

/**
 * The event loop's utilization (Node's `performance.eventLoopUtilization`, in Node and Electron's
 * main process alike); undefined where the runtime has none.
 */
const loopUtilization = (
  globalThis.performance as { eventLoopUtilization?: EventLoopUtilityFunction }
).eventLoopUtilization?.bind(globalThis.performance)

/** Points kept: two minutes at the default interval of one second. */
export const METRICS_HISTORY = 120

/**
 * The share of the hub's thread that whole snapshots for watching inspectors may take. A snapshot
 * reads every subscription's latency: ~1 ms with a few dozen, 75–270 ms with 1,000 all delivered to
 * (docs/performance.md, *A metrics snapshot with many subscriptions*). One that took longer than
 * this share of the intervals since the last one delays the next, so an inspector slows a bus with
 * many busy subscriptions by this much at most; its header shows how often snapshots come.
 */
export const SNAPSHOT_SHARE = 0.02

export class MetricsFeed {
  private readonly points: MetricsPoint[] = []
  private readonly listeners = new Set<(snapshot: BusMetrics) => void>()
  private readonly timer: ReturnType<typeof setInterval>
  /** When (monotonic ms) the next whole snapshot may be taken, by what the last one cost. */
  private nextSnapshotAt = 0
  /** A watcher came since the last snapshot: it gets one at the next interval, whatever the share. */
  private newWatcher = false
  /** The event loop's utilization at the last point, where the runtime measures it (Node does). */
  private loopAtLastPoint = loopUtilization?.()

  private readonly snapshot: () => Promise<BusMetrics>
  private readonly historySize: number
  private readonly snapshotShare: number

  /**
   * @param options.snapshot what a whole snapshot is (the hub's adds its connections to the bus's);
   * `historySize` and `snapshotShare` default to {@link METRICS_HISTORY} and {@link SNAPSHOT_SHARE}
   */
  constructor(
    private readonly bus: EventBus,
    private readonly internals: Pick<BusInternals, 'metricsPoint'>,
    options: { snapshot?: () => Promise<BusMetrics>; historySize?: number; snapshotShare?: number } = {},
  ) {
    this.snapshot = options.snapshot ?? (() => bus.metrics())
    this.historySize = options.historySize ?? METRICS_HISTORY
    this.snapshotShare = options.snapshotShare ?? SNAPSHOT_SHARE
    this.timer = setInterval(() => this.take(), bus.config.metricsIntervalMs)
    unrefTimer(this.timer)
  }

  /** Calls `listener` with each snapshot from the next one on. @returns a function that stops it */
  watch(listener: (snapshot: BusMetrics) => void): () => void {
    this.listeners.add(listener)
    this.newWatcher = true
    return () => this.listeners.delete(listener)
  }

  /** The points kept, oldest first. */
  history(): MetricsPoint[] {
    return [...this.points]
  }

  close(): void {
    clearInterval(this.timer)
    this.listeners.clear()
  }

  private take(): void {
    const hubBusy = this.hubBusySinceLastPoint()
    this.points.push({ ...this.internals.metricsPoint(), ...(hubBusy !== undefined && { hubBusy }) })
    if (this.points.length > this.historySize) this.points.shift()
    if (this.listeners.size === 0) return
    const startedAt = monotonicMs()
    // A window just opened waits one interval for its first snapshot, not the share's spacing
    // (up to 14 s with 1,000 busy subscriptions); the spacing then counts from that snapshot.
    if (startedAt < this.nextSnapshotAt && !this.newWatcher) return
    this.newWatcher = false
    // The snapshot's own latency interval is the point's: a reading within it gets the same. The
    // bus builds it before it returns (the promise is only its API's shape): timed here.
    const pending = this.snapshot()
    // A timer may come a little early: a tenth of an interval is slack enough.
    const slack = this.bus.config.metricsIntervalMs / 10
    this.nextSnapshotAt = startedAt + (monotonicMs() - startedAt) / this.snapshotShare - slack
    void pending.then((bare) => {
      const snapshot = hubBusy === undefined ? bare : { ...bare, hubBusy }
      for (const listener of this.listeners) listener(snapshot)
    })
  }

  /** The share of the time since the last point the hub's thread was busy, if the runtime says. */
  private hubBusySinceLastPoint(): number | undefined {
    const before = this.loopAtLastPoint
    const now = loopUtilization?.()
    this.loopAtLastPoint = now
    return before && now && loopUtilization?.(now, before).utilization
  }
}
