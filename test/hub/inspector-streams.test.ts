/**
 * One inspecting session's streams on their own, with the hub and the endpoint's link faked and
 * the clock in the test's hands: what the Connections view lists, what a stream turned on twice or
 * stopped leaves running, and the tail's per-flush budget and its `sampled` flag.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  InspectorStreams,
  STREAM_BUFFER_LIMIT_BYTES,
  type StreamsHub,
  type StreamsLink,
  TAIL_INTERVAL_MS,
  TAIL_MAX_ENTRIES,
} from '../../src/main/hub/inspector-streams.js'
import type { BusMetrics } from '../../src/shared/metrics-snapshot.js'
import type { HubFrame } from '../../src/shared/wire.js'
import { rawMessage, useFakeClock } from '../helpers.js'

beforeEach(() => {
  useFakeClock()
})
afterEach(() => {
  vi.useRealTimers()
})

/**
 * A session's streams over a fake hub and link; `sent` collects what the link was given, `taps`
 * counts the hub's tap updates, and `leaveUnread(bytes)` sets what the port says is left unread.
 */
function streams() {
  let taps = 0
  let unread = 0
  const watchers = new Set<(snapshot: BusMetrics) => void>()
  const hub: StreamsHub = {
    metricsFeed: {
      watch: (listener) => {
        watchers.add(listener)
        return () => watchers.delete(listener)
      },
    },
    tails: new Set(),
    updateTap: () => {
      taps++
    },
  }
  const sent: HubFrame[] = []
  const link: StreamsLink = { send: (frame) => sent.push(frame), port: { bufferedBytes: () => unread } }
  const session = new InspectorStreams(hub, link)
  const tailFrames = () => sent.flatMap((frame) => (frame.t === 'tail' ? [frame] : []))
  const leaveUnread = (bytes: number) => {
    unread = bytes
  }
  return { session, hub, watchers, sent, tailFrames, taps: () => taps, leaveUnread }
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
    // A burst, then quiet: one empty tail says the sampling is over, and nothing follows it.
    expect(flushOf(TAIL_MAX_ENTRIES + 1)).toEqual({ entries: TAIL_MAX_ENTRIES, sampled: true })
    expect(flushOf(0)).toEqual({ entries: 0, sampled: false })
    vi.advanceTimersByTime(3 * TAIL_INTERVAL_MS)
    expect(tailFrames()).toHaveLength(5)
  })

  it('is fed by the hub’s tap only while its tail is on, the tap updated at each change', () => {
    const { session, hub, taps } = streams()
    session.set('tail', true)
    expect([hub.tails.has(session), taps()]).toEqual([true, 1])
    session.set('tail', false)
    expect([hub.tails.has(session), taps()]).toEqual([false, 2])
    session.set('tail', true)
    session.stop()
    expect([hub.tails.has(session), taps()]).toEqual([false, 4])
  })

  it('sends no tail while nothing came, and says it sampled once a direct channel’s sample left some out', () => {
    const { session, tailFrames } = streams()
    session.set('tail', true)
    vi.advanceTimersByTime(3 * TAIL_INTERVAL_MS)
    expect(tailFrames()).toEqual([])
    session.markTailSampled()
    session.tail(rawMessage(), 1)
    vi.advanceTimersByTime(TAIL_INTERVAL_MS)
    expect(tailFrames().map(({ entries, sampled }) => [entries.length, sampled])).toEqual([[1, true]])
  })

  it('says it sampled when entries were left out and none follow, once, and then once that it no longer does', () => {
    const { session, tailFrames, leaveUnread } = streams()
    session.set('tail', true)
    session.markTailSampled()
    vi.advanceTimersByTime(TAIL_INTERVAL_MS)
    leaveUnread(STREAM_BUFFER_LIMIT_BYTES + 1)
    session.tail(rawMessage(), 1) // left out: the reader is behind
    vi.advanceTimersByTime(3 * TAIL_INTERVAL_MS)
    leaveUnread(0)
    vi.advanceTimersByTime(3 * TAIL_INTERVAL_MS)
    expect(tailFrames().map(({ entries, sampled }) => [entries.length, sampled])).toEqual([
      [0, true],
      [0, true],
      [0, false], // the burst is over: the window stops warning of it
    ])
  })

  it('skips a reader that left more than its bound unread, and says so once it reads again', () => {
    const { session, watchers, sent, tailFrames, leaveUnread } = streams()
    session.set('metrics', true)
    session.set('tail', true)
    const snapshot = () => {
      for (const watcher of watchers) watcher({} as BusMetrics)
    }
    const flushOne = () => {
      session.tail(rawMessage(), 1)
      vi.advanceTimersByTime(TAIL_INTERVAL_MS)
    }
    leaveUnread(STREAM_BUFFER_LIMIT_BYTES) // at the bound, not past it
    snapshot()
    flushOne()
    leaveUnread(STREAM_BUFFER_LIMIT_BYTES + 1)
    snapshot()
    flushOne()
    leaveUnread(0)
    snapshot()
    flushOne()
    expect(sent.filter((frame) => frame.t === 'metrics')).toHaveLength(2)
    expect(tailFrames().map(({ entries, sampled }) => [entries.length, sampled])).toEqual([
      [1, false],
      [1, true], // the entry skipped is not carried over; the flag says some were left out
    ])
  })
})
