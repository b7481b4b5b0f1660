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
 * to it as this thread goes away for 300 ms.
 */
function listeningPort() {
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
      stallThisThread(300)
    },
    close: () => port1.close(),
  }
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
    const port = listeningPort()
    const verdict = await new Promise<{ read: boolean; away: boolean }>((resolve) => {
      const stop = awakeInterval(200, (_, away) => {
        stop()
        resolve({ read: port.readLastSent(), away })
      })
      // Due with the interval's timer and set after it, so it runs right after the timer: in the
      // same turn, before the one that judges, this thread goes away.
      setTimeout(() => setImmediate(port.sendAndStall), 200)
    })
    port.close()
    expect(verdict).toEqual({ read: true, away: true })
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
    const late = listeningPort()
    const readWhenFiredLate = await new Promise<boolean>((resolve) => {
      timeoutAfterInput(200, () => resolve(late.readLastSent()))
      setTimeout(() => setImmediate(late.sendAndStall), 200)
    })
    late.close()
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
