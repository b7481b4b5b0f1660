/**
 * The hub's metrics feed: one `bus.metrics()` snapshot per metrics interval, for every inspecting
 * endpoint that streams them (each used to take its own, on its own timer), and the charted
 * fields of the last two minutes of them, so an inspector opened now draws what came before it.
 * It runs for the hub's life, watched or not: a snapshot of a bus whose subscriptions are mostly
 * quiet costs about a millisecond.
 */
import { type BusMetrics, type MetricsPoint, metricsPointSchema } from '../../shared/metrics-snapshot.js'
import { unrefTimer } from '../../shared/peer-timers.js'
import type { EventBus } from '../bus/index.js'

/** Points kept: two minutes at the default interval of one second. */
export const METRICS_HISTORY = 120

export class MetricsFeed {
  private readonly points: MetricsPoint[] = []
  private readonly listeners = new Set<(snapshot: BusMetrics) => void>()
  private readonly timer: ReturnType<typeof setInterval>

  constructor(
    private readonly bus: EventBus,
    private readonly historySize = METRICS_HISTORY,
  ) {
    this.timer = setInterval(() => this.take(), bus.config.metricsIntervalMs)
    unrefTimer(this.timer)
  }

  /** Calls `listener` with each snapshot from the next one on. @returns a function that stops it */
  watch(listener: (snapshot: BusMetrics) => void): () => void {
    this.listeners.add(listener)
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
    void this.bus.metrics().then((snapshot) => {
      // The schema's pick: the charted fields, the rest (subscriptions, types…) left out.
      this.points.push(metricsPointSchema.parse(snapshot))
      if (this.points.length > this.historySize) this.points.shift()
      for (const listener of this.listeners) listener(snapshot)
    })
  }
}
