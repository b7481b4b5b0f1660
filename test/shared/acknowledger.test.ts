/**
 * What an endpoint's acknowledger sends its hub (or a direct channel's producer): a tick's acks as
 * one frame, the slow ones apart, each ack once; nacks at once, with their reason bounded.
 */
import { describe, expect, it } from 'vitest'
import { Acknowledger, type Delivery } from '../../src/shared/acknowledger.js'
import type { EndpointFrame } from '../../src/shared/wire.js'
import { flushMicrotasks, rawMessage } from '../helpers.js'
import { recordingLink } from './recording-link.js'

function acknowledger() {
  const { link, sent } = recordingLink()
  const acks = new Acknowledger(link)
  const delivery = (id: number): Delivery => ({
    id,
    subscriptionId: 's1',
    message: rawMessage(),
    timeoutMs: 1_000,
    again: false,
    via: acks,
  })
  return { acks, delivery, sent }
}

describe('an acknowledger', () => {
  it('sends a tick’s acks as one frame, the slow ones listed apart, and each ack in one tick only', async () => {
    const { acks, delivery, sent } = acknowledger()
    acks.handled(delivery(1))
    acks.handled(delivery(2), true)
    acks.handled(delivery(3))
    await flushMicrotasks()
    acks.handled(delivery(4))
    await flushMicrotasks()
    acks.handled(delivery(5), true)
    await flushMicrotasks()
    expect(sent()).toEqual([
      [{ t: 'ack', ids: [1, 3], slow: [2] }],
      [{ t: 'ack', ids: [4] }],
      [{ t: 'ack', ids: [], slow: [5] }],
    ])
  })

  it('sends nothing in a tick where nothing was handled', async () => {
    const { acks, delivery, sent } = acknowledger()
    acks.handled(delivery(1))
    acks.flush() // as a closing endpoint does before its tick ends
    await flushMicrotasks()
    acks.flush()
    expect(sent()).toEqual([[{ t: 'ack', ids: [1] }]])
  })

  it('nacks at once, not with the tick’s acks, with the reason bounded and its flags', async () => {
    const { acks, delivery, sent } = acknowledger()
    acks.handled(delivery(1))
    acks.failed(delivery(2), new Error('x'.repeat(10_000)), false, true)
    acks.failed(delivery(3), 'too slow', true, false, true)
    acks.gone(delivery(4))
    acks.gone(delivery(5), 'Unsubscribed: ended by the bus while it ran', true)
    await flushMicrotasks()
    const [frames] = sent()
    expect(frames?.map((frame) => frame.t)).toEqual(['nack', 'nack', 'nack', 'nack', 'ack'])
    const [tooLong, timedOut, gone, ran] = frames as Extract<EndpointFrame, { t: 'nack' }>[]
    expect(tooLong).toMatchObject({ id: 2, timedOut: false })
    expect(tooLong?.error).toHaveLength(4096)
    expect(tooLong).not.toHaveProperty('slow')
    // A thrown non-Error is named as such.
    expect(timedOut).toEqual({ t: 'nack', id: 3, error: 'Thrown: too slow', timedOut: true, slow: true })
    expect(gone).toEqual({
      t: 'nack',
      id: 4,
      error: 'Unsubscribed: the subscription ended before this delivery ran',
      timedOut: false,
      gone: true,
    })
    expect(ran).toEqual({
      t: 'nack',
      id: 5,
      error: 'Unsubscribed: ended by the bus while it ran',
      timedOut: false,
      gone: true,
      ran: true,
    })
  })
})
