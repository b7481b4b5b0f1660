/**
 * An endpoint's handler slots and `SettledBy`: a handler that resolves with one (as `respond` does
 * once its reply is sent) gives its slot to the next delivery at once, and its delivery settles as
 * the outcome settles, or times out, as any delivery does.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Acknowledger, Delivery } from '../../src/shared/acknowledger.js'
import { BusMessage, MessagePayload } from '../../src/shared/index.js'
import { LocalSubscriptions, SettledBy } from '../../src/shared/local-subscriptions.js'
import type { PredicateErrors } from '../../src/shared/predicate-errors.js'
import { validData } from '../helpers.js'

/** Where outcomes go: the events, in order. */
function recordingVia() {
  const events: string[] = []
  const via = {
    screen: () => undefined,
    arrived: () => {},
    handled: (delivery: Delivery) => events.push(`handled ${delivery.id}`),
    failed: (delivery: Delivery, error: unknown) => events.push(`failed ${delivery.id}: ${String(error)}`),
    gone: (delivery: Delivery) => events.push(`gone ${delivery.id}`),
    nack: (id: number) => events.push(`nack ${id}`),
  } as unknown as Acknowledger
  return { via, events }
}

/** A subscription `sid` on an endpoint running one handler at once, and a frame of `count` deliveries for it. */
function oneWorker(handler: (message: BusMessage<'RawEvent'>) => unknown) {
  const { via, events } = recordingVia()
  const subscriptions = new LocalSubscriptions(via, {} as PredicateErrors)
  subscriptions.configure(1, undefined)
  subscriptions.add('sid', { handler: handler as never, predicate: undefined, reliable: true })
  const deliver = (count: number, timeoutMs = 1000) =>
    subscriptions.deliverFrame(
      {
        t: 'dlvs',
        sid: 'sid',
        id: 1,
        timeoutMs,
        msgs: Array.from({ length: count }, () =>
          BusMessage.create('data-capture', MessagePayload.RawEvent(validData.RawEvent())),
        ),
      },
      via,
    )
  return { deliver, events }
}

/** An outcome to settle by hand. */
function outcome() {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

afterEach(() => {
  vi.useRealTimers()
})

describe('SettledBy', () => {
  it('frees the handler slot at once; each delivery settles as its outcome does', async () => {
    const outcomes = [outcome(), outcome(), outcome()]
    let ran = 0
    const { deliver, events } = oneWorker(() => new SettledBy(outcomes[ran++]!.promise))
    deliver(3)
    expect(ran).toBe(3) // one worker, yet all three ran: none held its slot
    expect(events).toEqual([])
    outcomes[1]!.resolve()
    outcomes[0]!.reject(new Error('refused'))
    await turn()
    expect(events).toEqual(['handled 2', 'failed 1: Error: refused'])
  })

  it('frees the slot when a handler resolves with one, not before', async () => {
    const gate = outcome()
    const pending = outcome()
    let ran = 0
    const { deliver, events } = oneWorker(async () => {
      ran++
      await gate.promise
      return new SettledBy(pending.promise)
    })
    deliver(3)
    expect(ran).toBe(1) // the first holds the slot while its handler runs
    gate.resolve()
    await turn()
    expect(ran).toBe(3) // handed back: the next ran, and the last once that one handed back too
    expect(events).toEqual([])
    pending.resolve()
    await turn()
    expect(events).toEqual(['handled 1', 'handled 2', 'handled 3'])
  })

  it('still times out: an outcome that never settles fails its delivery with DeliveryTimeout', async () => {
    vi.useFakeTimers()
    const { deliver, events } = oneWorker(() => new SettledBy(new Promise(() => {})))
    deliver(2, 50)
    await vi.advanceTimersByTimeAsync(49)
    expect(events).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(events).toEqual([
      expect.stringMatching(/^failed 1: .*DeliveryTimeout/),
      expect.stringMatching(/^failed 2: .*DeliveryTimeout/),
    ])
  })

  it('without it, a pending handler holds its slot (the bound SettledBy lifts)', () => {
    let ran = 0
    const { deliver } = oneWorker(() => {
      ran++
      return new Promise(() => {})
    })
    deliver(3)
    expect(ran).toBe(1)
  })
})
