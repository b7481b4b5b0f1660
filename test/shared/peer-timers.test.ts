/**
 * The timers that judge a peer read what it sent before they judge, whatever kept this thread
 * away: the cases here are the ones Node gets wrong by itself (measured on Node 20), a long task
 * run from setImmediate, after which the loop runs its due timers before it reads its ports. On a
 * clock made to jump, the rules themselves: when this side counts as away, a late turn's extra wait,
 * cancelling at each stage, and which timers keep the process alive.
 */
import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { awakeInterval, timeoutAfterInput } from '../../src/shared/peer-timers.js'
import { stallThisThread } from '../helpers.js'

/**
 * A port whose messages this thread reads, and when it last read one; `sendAndStall` sends one
 * to it as this thread goes away for `stallMs`.
 */
function listeningPort(stallMs = 300) {
  const { port1, port2 } = new MessageChannel()
  const seen = { lastReadAt: 0, sentAt: 0 }
  port2.on('message', () => {
    seen.lastReadAt = performance.now()
  })
  return {
    /** Whether the message sent last was read. */
    readLastSent: () => seen.sentAt > 0 && seen.lastReadAt >= seen.sentAt,
    sentYet: () => seen.sentAt > 0,
    sendAndStall: () => {
      port1.postMessage('hello')
      seen.sentAt = performance.now()
      stallThisThread(stallMs)
    },
    close: () => port1.close(),
  }
}

type ListeningPort = ReturnType<typeof listeningPort>

/** The timer under test in `judgedAfterGoingAway`. */
const TIMER_MS = 200

/**
 * The verdict of a timer that `start` sets for TIMER_MS and that calls `judged`, when a message
 * comes as this thread goes away (for `stallMs`) right after the timer's time and before the turn
 * that judges: a timeout due with it and set after it runs right after it, and goes away from that
 * same turn. On a loaded machine the judging turn can come first (the timers outlasting its zero
 * timer's millisecond); such a try shows nothing and is made again, a few times at most.
 */
async function judgedAfterGoingAway<T>(
  start: (port: ListeningPort, judged: (verdict: T) => void) => void,
  stallMs?: number,
): Promise<T> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = listeningPort(stallMs)
    const outcome = await new Promise<{ wentAway: boolean; verdict: T }>((resolve) => {
      start(port, (verdict) => resolve({ wentAway: port.sentYet(), verdict }))
      setTimeout(() => setImmediate(port.sendAndStall), TIMER_MS)
    })
    port.close()
    if (outcome.wentAway) return outcome.verdict
  }
  throw new Error('the thread never went away between the timer and its verdict')
}

describe('peer timers', () => {
  it('awakeInterval judges after reading what came while this thread was away for less than two intervals', async () => {
    const port = listeningPort()
    const verdicts = await new Promise<boolean[]>((resolve) => {
      const seenByTick: boolean[] = []
      const stop = awakeInterval(200, (_, away) => {
        if (!port.sentYet()) {
          // Right after this tick, so the next tick falls due while this thread is away, not late
          // enough to count as away.
          setImmediate(port.sendAndStall)
          return
        }
        seenByTick.push(away || port.readLastSent())
        stop()
        resolve(seenByTick)
      })
    })
    port.close()
    expect(verdicts).toEqual([true])
  })

  it('awakeInterval judges after reading what came while this thread was away between its timer and the tick', async () => {
    const judgeOnce = (port: ListeningPort, judged: (verdict: { read: boolean; away: boolean }) => void) => {
      const stop = awakeInterval(TIMER_MS, (_, away) => {
        stop()
        judged({ read: port.readLastSent(), away })
      })
    }
    // Away for less than two intervals: judged, as a busy loop's ticks must be, once it has read.
    // (One interval: a loaded machine's delays on top of it stay well short of the second.)
    expect(await judgedAfterGoingAway(judgeOnce, TIMER_MS)).toEqual({ read: true, away: false })
    // Away for longer (the machine may have slept): judged as away, as a timer that came late is.
    expect(await judgedAfterGoingAway(judgeOnce, 2.5 * TIMER_MS)).toEqual({ read: true, away: true })
  })

  it('timeoutAfterInput fires after reading what came before its time, and can be cancelled', async () => {
    const early = listeningPort()
    const readWhenFired = await new Promise<boolean>((resolve) => {
      setTimeout(() => setImmediate(early.sendAndStall), 150)
      timeoutAfterInput(200, () => resolve(early.readLastSent()))
    })
    early.close()
    expect(readWhenFired).toBe(true)
    // The same when this thread goes away right after the timeout's time, before its verdict.
    const readWhenFiredLate = await judgedAfterGoingAway<boolean>((port, judged) => {
      timeoutAfterInput(TIMER_MS, () => judged(port.readLastSent()))
    })
    expect(readWhenFiredLate).toBe(true)
    let fired = false
    const cancel = timeoutAfterInput(10, () => {
      fired = true
    })
    cancel()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(fired).toBe(false)
  })
})

/**
 * Fake timers, and a monotonic clock that follows them and can jump as a machine's sleep or a long
 * task makes it: `goAway(ms)` moves the clock on without running any timer. The timers set are kept.
 */
function fakeClockThatJumps() {
  const runtimePerformance = globalThis.performance
  vi.useFakeTimers()
  const fakePerformance = globalThis.performance
  let away = 0
  vi.spyOn(runtimePerformance, 'now').mockImplementation(() => fakePerformance.now() + away)
  const made: NodeJS.Timeout[] = []
  for (const name of ['setTimeout', 'setInterval'] as const) {
    const fake = globalThis[name] as (...args: unknown[]) => NodeJS.Timeout
    vi.spyOn(globalThis, name).mockImplementation(((...args: unknown[]) => {
      const timer = fake(...args)
      made.push(timer)
      return timer
    }) as never)
  }
  return {
    /** Whether each timer set so far keeps the process alive, in the order they were set. */
    refs: () => made.map((timer) => timer.hasRef()),
    goAway: (ms: number) => {
      away += ms
    },
    /** The next timer due runs, and no other. */
    nextTimer: () => vi.advanceTimersToNextTimer(),
  }
}

describe('peer timers, on a clock made to jump', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
  })

  it('awakeInterval counts this side away when its timer comes more than two intervals after the last', () => {
    const { goAway } = fakeClockThatJumps()
    const ticks: boolean[] = []
    const stop = awakeInterval(100, (_, away) => ticks.push(away))
    // Each tick judges on the turn after its timer, a millisecond later (a zero timer's delay).
    vi.advanceTimersByTime(101)
    goAway(100) // the timer comes two intervals after the last: no absence yet
    vi.advanceTimersByTime(100)
    goAway(101)
    vi.advanceTimersByTime(100)
    vi.advanceTimersByTime(100) // counted from the late one: on time
    expect(ticks).toEqual([false, false, true, false])
    stop()
  })

  it('awakeInterval counts this side away when its judging turn comes over two intervals after its timer', () => {
    const { goAway, nextTimer } = fakeClockThatJumps()
    const ticks: boolean[] = []
    const stop = awakeInterval(100, (_, away) => ticks.push(away))
    nextTimer() // the interval's timer; its judging turn waits
    goAway(201)
    vi.advanceTimersByTime(2) // the late turn waits one more, then judges
    expect(ticks).toEqual([true])
    stop()
  })

  it('awakeInterval stopped between its timer and its judging turn judges no more', () => {
    const { nextTimer } = fakeClockThatJumps()
    const ticks: boolean[] = []
    const stop = awakeInterval(100, (_, away) => ticks.push(away))
    nextTimer()
    stop()
    vi.advanceTimersByTime(1_000)
    expect(ticks).toEqual([])
  })

  it('timeoutAfterInput fires on the turn after its time, one turn later when that turn came over 20 ms after its time', () => {
    const { goAway, nextTimer } = fakeClockThatJumps()
    const fired: string[] = []
    // The turn comes a millisecond after its time (a zero timer's delay), and this side was away for `awayMs`.
    for (const [name, awayMs] of [
      ['prompt', 19],
      ['late', 20],
    ] as const) {
      timeoutAfterInput(100, () => fired.push(name))
      nextTimer() // its time
      expect(fired).toEqual(name === 'prompt' ? [] : ['prompt'])
      goAway(awayMs)
      nextTimer() // the turn after it
      if (name === 'late') {
        expect(fired).toEqual(['prompt'])
        nextTimer()
      }
      expect(fired.at(-1)).toBe(name)
    }
  })

  it('timeoutAfterInput cancelled after its time, before its turn, never fires', () => {
    const { goAway, nextTimer } = fakeClockThatJumps()
    let fired = 0
    for (const lateMs of [0, 21]) {
      const cancel = timeoutAfterInput(100, () => fired++)
      nextTimer()
      goAway(lateMs)
      if (lateMs > 0) nextTimer() // the late turn, which waits one more
      cancel()
      vi.advanceTimersByTime(1_000)
    }
    expect(fired).toBe(0)
  })

  it('keep no process alive, but a timeout asked to, through each of its timers', () => {
    const { refs, goAway, nextTimer } = fakeClockThatJumps()
    const stop = awakeInterval(100, () => {})
    nextTimer()
    goAway(21) // its turn comes late and waits once more: three timers
    nextTimer()
    expect(refs()).toEqual([false, false, false])
    stop()
    for (const keepsProcessAlive of [false, true]) {
      const before = refs().length
      timeoutAfterInput(100, () => {}, keepsProcessAlive)
      nextTimer()
      goAway(21)
      nextTimer()
      nextTimer() // it fires
      expect(refs().slice(before)).toEqual([keepsProcessAlive, keepsProcessAlive, keepsProcessAlive])
    }
  })
})
