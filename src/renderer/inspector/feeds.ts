/**
 * The inspector's live data: the metrics stream turned into a rolling history, joined for the
 * charts to the points the hub kept from before the window opened (rates come from the difference
 * between consecutive points), and the message tail.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConnectionState, SkellyBusApi } from '../../preload/skelly-bus.js'
import type { BusMetrics, MetricsPoint, SubscriptionMetrics } from '../../shared/metrics-snapshot.js'
import type { TailEntry } from '../../shared/wire.js'
import { withArrivals } from './tail-order.js'

/** Snapshots kept for the charts (two minutes at the default one per second). */
export const HISTORY = 120
/** Messages kept in the tail. */
export const TAIL_SIZE = 500

export interface Rates {
  published: number
  delivered: number
  failed: number
  dropped: number
  deadLettered: number
}

/** A snapshot the window received, whole. */
export interface Sample {
  /** Seconds since the epoch, as uPlot wants its x values. */
  time: number
  metrics: BusMetrics
}

/** A point of the charts over time: a snapshot's charted fields and the rates since the point before. */
export interface ChartPoint {
  /** Seconds since the epoch, as uPlot wants its x values. */
  time: number
  /** A whole snapshot where the window received one, else the hub's point. */
  metrics: MetricsPoint | BusMetrics
  rates: Rates
}

/** What a chart point says of one subscription: its queue, and its latency if the point is a snapshot. */
export type SubscriptionAtPoint = Pick<SubscriptionMetrics, 'queueDepth' | 'inFlight'> &
  Partial<Pick<SubscriptionMetrics, 'recentLatency'>>

const RATE_FIELDS = {
  published: 'messagesPublished',
  delivered: 'messagesDelivered',
  failed: 'messagesFailed',
  dropped: 'messagesDropped',
  deadLettered: 'messagesDeadLettered',
} as const satisfies Record<keyof Rates, keyof MetricsPoint>

/**
 * A counter's rate between two snapshots, per second: 0 without an earlier snapshot or an earlier
 * count (a type first seen now), never negative (a counter the bus restarted).
 */
export function perSecond<M extends MetricsPoint>(
  previous: M | undefined,
  current: M,
  counter: (metrics: M) => number | undefined,
): number {
  const before = previous && counter(previous)
  const seconds = previous ? (current.collectedAt.getTime() - previous.collectedAt.getTime()) / 1000 : 0
  if (before === undefined || seconds <= 0) return 0
  return Math.max(0, ((counter(current) ?? 0) - before) / seconds)
}

function ratesBetween(previous: MetricsPoint | undefined, current: MetricsPoint): Rates {
  const rates = {} as Rates
  for (const key of Object.keys(RATE_FIELDS) as (keyof Rates)[]) {
    rates[key] = perSecond(previous, current, (metrics) => metrics[RATE_FIELDS[key]])
  }
  return rates
}

/**
 * The median time between consecutive points (ms), or undefined for fewer than two: the interval
 * they were taken at, which a gap (a window away from the hub) does not change.
 */
export function medianSpacing(points: readonly MetricsPoint[]): number | undefined {
  const gaps = points
    .slice(1)
    .map((point, i) => point.collectedAt.getTime() - (points[i]?.collectedAt.getTime() ?? 0))
    .sort((a, b) => a - b)
  return gaps[Math.floor(gaps.length / 2)]
}

/**
 * The hub's points this window did not receive as snapshots: those from before its first one,
 * and those from while it was away from the hub. A point is received when a snapshot was taken
 * within half an interval of it (the hub takes both at the same tick).
 */
function pointsMissed(past: readonly MetricsPoint[], samples: readonly Sample[]): MetricsPoint[] {
  const received = samples.map((sample) => sample.metrics.collectedAt.getTime())
  const firstReceived = received[0] ?? Number.POSITIVE_INFINITY
  const spacing = medianSpacing(past)
  if (spacing === undefined) return past.filter((point) => point.collectedAt.getTime() < firstReceived)
  let next = 0 // the first snapshot not before the point (both are in time order)
  return past.filter((point) => {
    const at = point.collectedAt.getTime()
    while (next < received.length && (received[next] ?? 0) < at) next++
    const nearest = Math.min(
      at - (received[next - 1] ?? Number.NEGATIVE_INFINITY),
      (received[next] ?? Number.POSITIVE_INFINITY) - at,
    )
    return nearest >= spacing / 2
  })
}

/**
 * The charts' points: the snapshots received, with the hub's points filling in before the first
 * (so an inspector opened late draws what came before it) and where the window was away from the
 * hub, the last {@link HISTORY} of them. Each point's rates come from the point before it, so the
 * rates shown on opening are not zeros, nor a reconnected window's an average over its absence.
 */
export function chartPoints(past: readonly MetricsPoint[], samples: readonly Sample[]): ChartPoint[] {
  const all = [...pointsMissed(past, samples), ...samples.map((sample) => sample.metrics)].sort(
    (a, b) => a.collectedAt.getTime() - b.collectedAt.getTime(),
  )
  const points: ChartPoint[] = []
  let previous: MetricsPoint | undefined
  for (const metrics of all) {
    points.push({
      time: metrics.collectedAt.getTime() / 1000,
      metrics,
      rates: ratesBetween(previous, metrics),
    })
    previous = metrics
  }
  return points.slice(-HISTORY)
}

/**
 * Publishes of `type` so far: a whole snapshot's type counters say, or a hub's point's. Both list
 * every type counted so far, so a type they lack had none yet (a type that appears is rated from
 * 0, not left without a rate); unknown only at a point from a hub that counts no types.
 */
export function publishedOf(metrics: MetricsPoint | BusMetrics, type: string): number | undefined {
  if ('types' in metrics) return metrics.types[type]?.published ?? 0
  return metrics.publishedByType === undefined ? undefined : (metrics.publishedByType[type] ?? 0)
}

/**
 * Subscription `id` at a chart point's `metrics`: all of it at a snapshot the window received (nothing
 * if it was not there); its queue, and its latency if it delivered in the point's interval, at a
 * hub's point, which lists the subscriptions with copies queued or in flight or deliveries in the
 * interval, so any other had none (or did not exist yet). Nothing at a point from a hub that lists
 * none.
 */
export function subscriptionAt(
  metrics: MetricsPoint | BusMetrics,
  id: string,
): SubscriptionAtPoint | undefined {
  if ('subscriptions' in metrics) return metrics.subscriptions.find((s) => s.id === id)
  const busy = metrics.busySubscriptions
  return busy && (busy.find((s) => s.id === id) ?? { queueDepth: 0, inFlight: 0 })
}

/** `history` with the snapshot `metrics` last, the oldest dropped past {@link HISTORY}. */
export function withSample(history: readonly Sample[], metrics: BusMetrics): Sample[] {
  return [...history.slice(-(HISTORY - 1)), { time: metrics.collectedAt.getTime() / 1000, metrics }]
}

export function useMetricsHistory(bus: SkellyBusApi): Sample[] {
  const [history, setHistory] = useState<Sample[]>([])
  useEffect(() => bus.onMetrics((metrics) => setHistory((previous) => withSample(previous, metrics))), [bus])
  return history
}

/**
 * The points the hub kept, asked for each time the connection opens: at first, for what came
 * before this window, and after a reconnection, for what it missed while away. None until they
 * come; if asking failed, the console says so, and the charts keep a gap.
 */
export function usePastMetrics(bus: SkellyBusApi, connection: ConnectionState): MetricsPoint[] {
  const [past, setPast] = useState<MetricsPoint[]>([])
  useEffect(() => {
    if (connection !== 'open') return
    let current = true
    bus.metricsHistory().then(
      (points) => current && setPast(points),
      (error: { message?: string }) =>
        console.warn(`inspector: no metrics from the hub's history: ${error.message}`),
    )
    return () => {
      current = false
    }
  }, [bus, connection])
  return past
}

export interface TailState {
  entries: (TailEntry & { seq: number })[]
  /** Whether the hub skipped messages in the latest batches (heavy load, or this window read too slowly). */
  sampled: boolean
  paused: boolean
  setPaused(paused: boolean): void
  received: number
}

export function useTail(bus: SkellyBusApi): TailState {
  const [entries, setEntries] = useState<TailState['entries']>([])
  const [sampled, setSampled] = useState(false)
  const [paused, setPaused] = useState(false)
  const [received, setReceived] = useState(0)
  const pausedRef = useRef(paused)
  pausedRef.current = paused
  const seq = useRef(0)
  useEffect(
    () =>
      bus.onTail((batch, batchSampled) => {
        setSampled(batchSampled)
        setReceived((total) => total + batch.length)
        if (pausedRef.current) return
        const numbered = batch.map((entry) => ({ ...entry, seq: seq.current++ }))
        setEntries((previous) => withArrivals(previous, numbered, TAIL_SIZE))
      }),
    [bus],
  )
  return { entries, sampled, paused, setPaused, received }
}

export function useConnection(bus: SkellyBusApi): ConnectionState {
  const [state, setState] = useState<ConnectionState>('connecting')
  useEffect(() => bus.onConnection(setState), [bus])
  return state
}
