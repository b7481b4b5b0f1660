/**
 * The timers that judge a peer read what it sent before they judge, whatever kept this thread
 * away: the cases here are the ones Node gets wrong by itself (measured on Node 20), a long task
 * run from setImmediate, after which the loop runs its due timers before it reads its ports.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { awakeInterval, timeoutAfterInput } from '../../src/shared/peer-timers.js'
import { stallThisThread } from '../helpers.js'

/** A port whose messages this thread reads, and when it last read one. */
function listeningPort() {
  const { port1, port2 } = new MessageChannel()
  const seen = { lastReadAt: 0 }
  port2.on('message', () => {
    seen.lastReadAt = performance.now()
  })
  return { seen, send: () => port1.postMessage('hello'), close: () => port1.close() }
}

describe('peer timers', () => {
  it('awakeInterval judges after reading what came while this thread was away for less than two intervals', async () => {
    const port = listeningPort()
    let sentAt = 0
    const verdicts = await new Promise<boolean[]>((resolve) => {
      const seenByTick: boolean[] = []
      const stop = awakeInterval(200, (_, away) => {
        if (sentAt === 0) {
          // Right after this tick: a message comes as this thread goes away for 300 ms, so the
          // next tick falls due meanwhile, not late enough to count as away.
          setImmediate(() => {
            port.send()
            sentAt = performance.now()
            stallThisThread(300)
          })
          return
        }
        seenByTick.push(away || port.seen.lastReadAt >= sentAt)
        stop()
        resolve(seenByTick)
      })
    })
    port.close()
    expect(verdicts).toEqual([true])
  })

  it('timeoutAfterInput fires after reading what came before its time, and can be cancelled', async () => {
    const port = listeningPort()
    let sentAt = 0
    const readWhenFired = await new Promise<boolean>((resolve) => {
      setTimeout(
        () =>
          setImmediate(() => {
            port.send()
            sentAt = performance.now()
            stallThisThread(300)
          }),
        150,
      )
      timeoutAfterInput(200, () => resolve(port.seen.lastReadAt >= sentAt))
    })
    expect(readWhenFired).toBe(true)
    let fired = false
    const cancel = timeoutAfterInput(10, () => {
      fired = true
    })
    cancel()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(fired).toBe(false)
    port.close()
  })
})
