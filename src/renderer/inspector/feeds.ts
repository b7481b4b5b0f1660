/**
 * The inspector's live data: the metrics stream turned into a rolling history (rates come from
 * the difference between consecutive snapshots), and the message tail.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConnectionState, SkellyBusApi } from '../../preload/skelly-bus.js'
import type { BusMetrics } from '../../shared/metrics-snapshot.js'
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

export interface Sample {
  /** Seconds since the epoch, as uPlot wants its x values. */
  time: number
  metrics: BusMetrics
  rates: Rates
}

const RATE_FIELDS = {
  published: 'messagesPublished',
  delivered: 'messagesDelivered',
  failed: 'messagesFailed',
  dropped: 'messagesDropped',
  deadLettered: 'messagesDeadLettered',
} as const satisfies Record<keyof Rates, keyof BusMetrics>

/**
 * A counter's rate between two snapshots, per second: 0 without an earlier snapshot or an earlier
 * count (a type first seen now), never negative (a counter the bus restarted).
 */
export function perSecond(
  previous: BusMetrics | undefined,
  current: BusMetrics,
  counter: (metrics: BusMetrics) => number | undefined,
): number {
  const before = previous && counter(previous)
  const seconds = previous ? (current.collectedAt.getTime() - previous.collectedAt.getTime()) / 1000 : 0
  if (before === undefined || seconds <= 0) return 0
  return Math.max(0, ((counter(current) ?? 0) - before) / seconds)
}

function ratesBetween(previous: BusMetrics | undefined, current: BusMetrics): Rates {
  const rates = {} as Rates
  for (const [key, field] of Object.entries(RATE_FIELDS) as [keyof Rates, keyof BusMetrics][]) {
    rates[key] = perSecond(previous, current, (metrics) => metrics[field] as number)
  }
  return rates
}

export function useMetricsHistory(bus: SkellyBusApi): Sample[] {
  const [history, setHistory] = useState<Sample[]>([])
  useEffect(
    () =>
      bus.onMetrics((metrics) => {
        setHistory((previous) => {
          const sample = {
            time: metrics.collectedAt.getTime() / 1000,
            metrics,
            rates: ratesBetween(previous.at(-1)?.metrics, metrics),
          }
          return [...previous.slice(-(HISTORY - 1)), sample]
        })
      }),
    [bus],
  )
  return history
}

export interface TailState {
  entries: (TailEntry & { seq: number })[]
  /** Whether the hub skipped messages in the latest batches (heavy load). */
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
