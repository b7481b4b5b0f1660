/**
 * Endpoints that come and go, cleanly or not, and some that send garbage first: the hub and the
 * bus keep nothing of them once they are gone. Checked by the subscriptions the bus still lists
 * and by the heap after forced garbage collections, never by timing.
 */

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { BusMessage, DeliveryMode, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { connectBus } from '../../src/shared/index.js'
import { rawEvent, waitFor } from '../helpers.js'
import { startHub } from './fixture.js'

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** The heap after collections that leave nothing collectable behind. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    collectGarbage()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

describe('endpoint churn', () => {
  it('keeps nothing of endpoints that attached, subscribed, published and left', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 50 })
    const everything = { publish: '*', subscribe: '*' } as const
    let received = 0
    const cycle = async (n: number) => {
      const { port1, port2 } = new MessageChannel()
      const module = `churn-${n % 50}`
      hub.attach(port1, { module, permissions: everything })
      if (n % 4 === 3) {
        // A peer speaking raw frames, garbage among them, then gone without a word.
        const answered = new Promise((resolve) => port2.once('message', resolve))
        port2.postMessage([
          { t: 'hello', v: 1 },
          { t: 'sub', rid: 'x' },
          42,
          { t: '__proto__' },
          { t: 'sub', rid: 1, module, filter: { types: ['RawEvent'] }, mode: { kind: 'Reliable' } },
        ])
        await answered
        port2.close()
        return
      }
      const client = await connectBus(port2)
      await client.subscribe(module, { types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {
        received++
      })
      await client.subscribe(
        module,
        { types: ['StateChange'] },
        DeliveryMode.Reliable({ timeoutMs: 1_000 }),
        () => {},
      )
      await client.publish(BusMessage.create(module, MessagePayload.RawEvent(rawEvent())))
      // Some leave with a goodbye, others as a crash would leave them (the port just closes).
      if (n % 2 === 0) client.close()
      else port2.close()
    }
    const idle = async () => {
      // The ones that crashed park their Reliable subscription for the grace, then it ends.
      await waitFor(async () => (await bus.metrics()).subscriptions.length === 0, 10_000)
    }
    // First until the bus's bounded memories are full (dead letters, reasons of ended subscriptions).
    for (let n = 0; n < 2_000; n++) await cycle(n)
    await idle()
    const before = await settledHeap()
    const cycles = 3_000
    for (let n = 0; n < cycles; n++) await cycle(n)
    await idle()
    const grown = (await settledHeap()) - before
    expect(received).toBeGreaterThan(0)
    // Measured here: within ±150 bytes a cycle of nothing (the heap's own noise), and 4.4 KB a
    // cycle with the hub keeping each ended session.
    expect(grown / cycles).toBeLessThan(1_000)
  }, 120_000)
})
