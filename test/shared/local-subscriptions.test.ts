/**
 * An endpoint's handler slots and `SettledBy`: a handler that resolves with one (as `respond` does
 * once its reply is sent) gives its slot to the next delivery at once, and its delivery settles as
 * the outcome settles, or times out, as any delivery does.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import type { Acknowledger, Delivery } from '../../src/shared/acknowledger.js'
import { BusMessage, MessagePayload, MessagePriority } from '../../src/shared/index.js'
import {
  LocalSubscriptions,
  MAX_EARLY_DELIVERIES,
  MAX_REMEMBERED_UNSUBSCRIBED,
  SettledBy,
} from '../../src/shared/local-subscriptions.js'
import type { PredicateErrors } from '../../src/shared/predicate-errors.js'
import { rawEvent, rawMessage, stallThisThread, useFakeClock } from '../helpers.js'

/** Where outcomes go: the events, in order. */
function recordingVia() {
  const events: string[] = []
  const via = {
    screen: () => undefined,
    arrived: () => {},
    handled: (delivery: Delivery, slow?: boolean) =>
      events.push(`handled ${delivery.id}${slow ? ' (slow)' : ''}`),
    failed: (delivery: Delivery, error: unknown, _timedOut: boolean, _reliable: boolean, slow?: boolean) =>
      events.push(`failed ${delivery.id}: ${String(error)}${slow ? ' (slow)' : ''}`),
    gone: (delivery: Delivery) => events.push(`gone ${delivery.id}`),
    nack: (id: number) => events.push(`nack ${id}`),
  } as unknown as Acknowledger
  return { via, events }
}

/**
 * An endpoint's subscriptions over two recording links: `hub`, where the hub's own deliveries are
 * answered, and `direct`, a direct channel's. `subscribe` adds a Reliable subscription whose
 * handler gets each message's id (in its data) and is recorded in `ran`; `deliver` sends a frame
 * for `sid` of messages with `ids`, under the first id.
 */
function endpoint(workers = 1, slowMs?: number) {
  const hub = recordingVia()
  const direct = recordingVia()
  const subscriptions = new LocalSubscriptions(hub.via, {} as PredicateErrors)
  subscriptions.configure(workers, slowMs)
  const ran: number[] = []
  const subscribe = (sid: string, handler: (id: number) => unknown = () => {}) =>
    subscriptions.add(sid, {
      handler: (message) => {
        const id = (message.payload.data as { data: { id: number } }).data.id
        ran.push(id)
        return handler(id)
      },
      predicate: undefined,
      reliable: true,
    })
  const deliver = (
    sid: string,
    ids: number[],
    {
      via = hub.via,
      priorities = ids.map(() => MessagePriority.Normal),
      timeoutMs = 1000,
    }: { via?: Acknowledger; priorities?: MessagePriority[]; timeoutMs?: number } = {},
  ) =>
    subscriptions.deliverFrame(
      {
        t: 'dlvs',
        sid,
        id: ids[0] as number,
        timeoutMs,
        msgs: ids.map((id, index) => rawMessage(priorities[index], { data: { id } })),
      },
      via,
    )
  return {
    subscriptions,
    subscribe,
    deliver,
    ran,
    hub: hub.events,
    direct: direct.events,
    directVia: direct.via,
  }
}

/**
 * A subscription `sid` on an endpoint running one handler at once, and a frame of `count`
 * deliveries for it (ids from 1).
 */
function oneWorker(handler: () => unknown) {
  const { subscribe, deliver, hub } = endpoint()
  subscribe('sid', handler)
  return {
    deliver: (count: number, timeoutMs?: number) =>
      deliver(
        'sid',
        Array.from({ length: count }, (_, index) => index + 1),
        { timeoutMs },
      ),
    events: hub,
  }
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

  it('lends the slot back once: after its outcome settles, the next pending handler holds the slot again', async () => {
    const settled = outcome()
    let ran = 0
    const { deliver, events } = oneWorker(() =>
      ran++ === 0 ? new SettledBy(settled.promise) : new Promise(() => {}),
    )
    deliver(1)
    settled.resolve()
    await turn()
    expect(events).toEqual(['handled 1'])
    deliver(2)
    expect(ran).toBe(2)
  })

  it('leaves no timer behind once a delivery settles', async () => {
    useFakeClock()
    const settled = outcome()
    const { deliver } = oneWorker(() => new SettledBy(settled.promise))
    deliver(1)
    expect(vi.getTimerCount()).toBe(1) // its timeout
    settled.resolve()
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('still times out: an outcome that never settles fails its delivery with DeliveryTimeout', async () => {
    useFakeClock()
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

describe('an endpoint’s subscriptions', () => {
  it('run a frame’s deliveries highest priority first, and arrival order within one priority', () => {
    const { subscribe, deliver, ran } = endpoint()
    subscribe('sid')
    const { Low, Normal, High } = MessagePriority
    deliver('sid', [1, 2, 3, 4], { priorities: [Low, High, Normal, High] })
    expect(ran).toEqual([2, 4, 3, 1])
  })

  it('run as many handlers at once as the hub’s welcome allows', () => {
    const { subscribe, deliver, ran } = endpoint(2)
    subscribe('sid', () => new Promise(() => {}))
    deliver('sid', [1, 2, 3])
    expect(ran).toEqual([1, 2])
  })

  it('hold a direct channel’s deliveries for a subscription whose answer is on its way, and run them once it comes', () => {
    const { subscriptions, subscribe, deliver, ran, hub, direct, directVia } = endpoint()
    const answered = subscriptions.subscribing()
    deliver('sid', [1, 2], { via: directVia })
    // The hub's own never outrun its answer: one for an unknown subscription ended before.
    deliver('sid', [3])
    expect([ran, direct, hub]).toEqual([[], [], ['gone 3']])
    subscribe('sid')
    answered()
    expect(ran).toEqual([1, 2])
    expect(direct).toEqual(['handled 1', 'handled 2'])
  })

  it('end the held deliveries no answer named once every subscribe is answered, as with none on its way', () => {
    const { subscriptions, deliver, direct, directVia } = endpoint()
    const first = subscriptions.subscribing()
    const second = subscriptions.subscribing()
    deliver('other', [1], { via: directVia })
    first()
    expect(direct).toEqual([])
    second()
    expect(direct).toEqual(['gone 1'])
    deliver('other', [2], { via: directVia }) // no subscribe on its way: ended
    expect(direct).toEqual(['gone 1', 'gone 2'])
  })

  it('hold nothing for a subscription dropped here, a subscribe on its way or not', () => {
    const { subscriptions, subscribe, deliver, direct, directVia } = endpoint()
    subscribe('dropped')
    subscriptions.drop('dropped')
    subscriptions.subscribing()
    deliver('dropped', [1], { via: directVia })
    expect(direct).toEqual(['gone 1'])
  })

  it(`hold at most ${MAX_EARLY_DELIVERIES} deliveries (the next is ended), counting none that ran or were ended`, () => {
    const { subscriptions, subscribe, deliver, direct, directVia } = endpoint()
    const ids = (from: number) => Array.from({ length: MAX_EARLY_DELIVERIES }, (_, index) => from + index)
    const [first, second] = [subscriptions.subscribing(), subscriptions.subscribing()]
    deliver('sid', ids(1), { via: directVia })
    deliver('sid', [0], { via: directVia })
    expect(direct).toEqual(['gone 0'])
    subscribe('sid') // runs what was held for it
    first()
    deliver('other', [-1], { via: directVia }) // the second subscribe is still on its way: held
    expect(direct).not.toContain('gone -1')
    second() // its answer did not name it: ended
    expect(direct).toContain('gone -1')
    const third = subscriptions.subscribing()
    deliver('another', ids(1e6), { via: directVia })
    third()
    subscriptions.subscribing()
    deliver('later', [-2], { via: directVia }) // held
    expect(direct.filter((event) => event.startsWith('handled'))).toHaveLength(MAX_EARLY_DELIVERIES)
    expect(direct.filter((event) => !event.startsWith('handled'))).toEqual([
      'gone 0',
      'gone -1',
      ...ids(1e6).map((id) => `gone ${id}`),
    ])
  })

  it(`remember the latest ${MAX_REMEMBERED_UNSUBSCRIBED} subscriptions dropped, and whether each was Reliable`, () => {
    const { subscriptions, subscribe } = endpoint()
    for (let n = 0; n <= MAX_REMEMBERED_UNSUBSCRIBED; n++) {
      subscribe(`s${n}`)
      subscriptions.drop(`s${n}`)
    }
    expect(subscriptions.isReliable('s0')).toBe(false)
    expect(subscriptions.isReliable('s1')).toBe(true)
    expect(subscriptions.isReliable(`s${MAX_REMEMBERED_UNSUBSCRIBED}`)).toBe(true)
  })

  it('once the bus ended a subscription, report nothing of what its handlers still ran', async () => {
    const { subscriptions, subscribe, deliver, hub } = endpoint()
    const running = outcome()
    subscribe('sid', () => running.promise)
    deliver('sid', [1, 2])
    subscriptions.abandon('sid')
    expect(hub).toEqual(['gone 2', 'gone 1'])
    running.resolve()
    await turn()
    expect(hub).toEqual(['gone 2', 'gone 1'])
  })

  it('when the hub connection ends, run only the direct channel’s waiting deliveries, and take no new ones', async () => {
    const { subscriptions, subscribe, deliver, ran, hub, direct, directVia } = endpoint()
    const running = outcome()
    subscribe('sid', (id) => (id === 1 ? running.promise : undefined))
    deliver('sid', [1, 2])
    deliver('sid', [3, 4], { via: directVia })
    subscriptions.endAll()
    deliver('sid', [5], { via: directVia })
    expect(direct).toEqual(['gone 5'])
    running.resolve()
    await turn()
    // The hub's delivery 2 never runs: the hub delivers it again, or dead-letters it.
    expect(ran).toEqual([1, 3, 4])
    expect(hub).toEqual(['handled 1'])
    expect(direct).toEqual(['gone 5', 'handled 3', 'handled 4'])
  })

  it('count a handler slow that ran past the bus’s threshold, whether it returned, threw or settled later', async () => {
    const { subscribe, deliver, hub } = endpoint(1, 50)
    const later = outcome()
    subscribe('sid', (id) => {
      if (id === 4) return later.promise
      if (id !== 1) stallThisThread(100)
      if (id === 3) throw new Error('late and wrong')
    })
    deliver('sid', [1, 2, 3, 4])
    stallThisThread(100)
    later.resolve()
    await turn()
    expect(hub).toEqual([
      'handled 1',
      'handled 2 (slow)',
      'failed 3: Error: late and wrong (slow)',
      'handled 4 (slow)',
    ])
  })

  it('count a handler slow only once it ran longer than the threshold, as the bus does', () => {
    let now = 0
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now)
    onTestFinished(() => clock.mockRestore())
    const { subscribe, deliver, hub } = endpoint(1, 50)
    subscribe('sid', (id) => {
      now += id === 1 ? 50 : 51
    })
    deliver('sid', [1, 2])
    expect(hub).toEqual(['handled 1', 'handled 2 (slow)'])
  })

  it('fail a delivery whose handler rejected with nothing, saying so', async () => {
    const { subscribe, deliver, hub } = endpoint()
    subscribe('sid', () => Promise.reject())
    deliver('sid', [1])
    await turn()
    expect(hub).toEqual(['failed 1: Error: rejected without a reason'])
  })

  it('answer a delivery its link’s screen refuses with a nack under its own id, and run the rest', () => {
    const { subscriptions, subscribe, ran } = endpoint()
    subscribe('sid')
    const nacked: number[] = []
    const arrived: Delivery[] = []
    const screening = {
      ...recordingVia().via,
      screen: (message: { source: string }) =>
        message.source === 'storage' ? new Error('not yours') : undefined,
      nack: (id: number) => nacked.push(id),
      arrived: (delivery: Delivery) => arrived.push(delivery),
      handled: () => {},
    } as unknown as Acknowledger
    const message = (source: string, id: number) =>
      BusMessage.create(source, MessagePayload.RawEvent(rawEvent({ data: { id } })))
    subscriptions.deliverFrame(
      {
        t: 'dlvs',
        sid: 'sid',
        id: 10,
        timeoutMs: 1000,
        msgs: [message('data-capture', 1), message('storage', 2), message('data-capture', 3)],
      },
      screening,
    )
    expect(nacked).toEqual([11])
    expect(ran).toEqual([1, 3])
    // A direct channel's retry says so on its delivery.
    subscriptions.deliverFrame(
      { t: 'dlv', sid: 'sid', id: 20, timeoutMs: 1000, msg: message('data-capture', 4), again: true },
      screening,
    )
    expect(arrived.map(({ id, again }) => [id, again])).toEqual([
      [10, false],
      [12, false],
      [20, true],
    ])
  })
})
