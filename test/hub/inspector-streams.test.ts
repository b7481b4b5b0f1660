/**
 * One inspecting session's streams on their own, with the hub and the endpoint's link faked and
 * the clock in the test's hands: what the Connections view lists, what a stream turned on twice or
 * stopped leaves running, and the tail's per-flush budget and its `sampled` flag.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  InspectorStreams,
  type StreamsHub,
  type StreamsLink,
  TAIL_INTERVAL_MS,
  TAIL_MAX_ENTRIES,
} from '../../src/main/hub/inspector-streams.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import type { HubFrame } from '../../src/shared/wire.js'
import { rawMessage } from '../helpers.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A session's streams over a fake hub and link; `sent` collects what the link was given. */
function streams() {
  const watchers = new Set<(snapshot: BusMetrics) => void>()
  const hub: StreamsHub = {
    metricsFeed: {
      watch: (listener) => {
        watchers.add(listener)
        return () => watchers.delete(listener)
      },
    },
    tails: new Set(),
    updateTap: () => {},
  }
  const sent: HubFrame[] = []
  const link: StreamsLink = { send: (frame) => sent.push(frame), port: { bufferedBytes: () => 0 } }
  const session = new InspectorStreams(hub, link)
  const tailFrames = () => sent.flatMap((frame) => (frame.t === 'tail' ? [frame] : []))
  return { session, hub, watchers, sent, tailFrames }
}

describe("an inspecting session's streams", () => {
  it('lists the streams on now, as the Connections view shows them', () => {
    const { session } = streams()
    expect(session.watching()).toEqual([])
    session.set('metrics', true)
    session.set('tail', true)
    expect(session.watching()).toEqual(['metrics', 'tail'])
    session.set('metrics', false)
    expect(session.watching()).toEqual(['tail'])
    session.set('tail', false)
    expect(session.watching()).toEqual([])
  })

  it('turns a stream asked for twice on once: one copy of each snapshot, one tail timer', () => {
    const { session, watchers, sent } = streams()
    session.set('metrics', true)
    session.set('metrics', true)
    expect(watchers.size).toBe(1)
    for (const watcher of watchers) watcher({} as BusMetrics)
    expect(sent.filter((frame) => frame.t === 'metrics')).toHaveLength(1)

    session.set('tail', true)
    session.set('tail', true)
    expect(vi.getTimerCount()).toBe(1)
    session.set('tail', false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('leaves nothing running once stopped: no watcher, no timer, no tail the tap feeds', () => {
    const { session, hub, watchers } = streams()
    session.set('metrics', true)
    session.set('tail', true)
    session.stop()
    expect(watchers.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    expect(hub.tails.size).toBe(0)
    expect(session.watching()).toEqual([])
  })

  it('carries at most its budget of entries a flush, and says it sampled for that flush alone', () => {
    const { session, tailFrames } = streams()
    session.set('tail', true)
    const message = rawMessage()
    const flushOf = (entries: number) => {
      for (let i = 0; i < entries; i++) session.tail(message, 1)
      vi.advanceTimersByTime(TAIL_INTERVAL_MS)
      const frame = tailFrames().at(-1)
      return { entries: frame?.entries.length, sampled: frame?.sampled }
    }
    expect(flushOf(TAIL_MAX_ENTRIES)).toEqual({ entries: TAIL_MAX_ENTRIES, sampled: false })
    expect(flushOf(TAIL_MAX_ENTRIES + 1)).toEqual({ entries: TAIL_MAX_ENTRIES, sampled: true })
    expect(flushOf(1)).toEqual({ entries: 1, sampled: false })
    expect(tailFrames()).toHaveLength(3)
  })
})
