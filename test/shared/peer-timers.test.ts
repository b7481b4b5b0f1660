/**
 * The timers that judge a peer read what it sent before they judge, whatever kept this thread
 * away: the cases here are the ones Node gets wrong by itself (measured on Node 20), a long task
 * run from setImmediate, after which the loop runs its due timers before it reads its ports.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
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
