/**
 * When the hub stops waiting for an endpoint's ack: a delivery with others ahead of it starts within
 * one handler timeout per `workers` of them, then has its own, then a grace second; deliveries of a
 * higher priority sent after it go ahead of it at the endpoint, and count too.
 */
import { describe, expect, it } from 'vitest'
import type { SettleableAttempt } from '../../src/main/bus/subscription.js'
import { ACK_GRACE_MS, PendingAck, SentByPriority } from '../../src/main/hub/pending-ack.js'
import { MessagePriority, PRIORITY_LEVELS } from '../../src/shared/catalog.js'

const TIMEOUT = 100

/** The last moment `pending` is not yet overdue, with `workers` handler slots at the endpoint. */
function lastPatientMoment(pending: PendingAck, workers: number): number {
  const deadline = pending.sentAt + 100 * TIMEOUT
  let moment = pending.sentAt
  while (moment < deadline && !pending.overdueAt(moment + 1, workers)) moment++
  return moment - pending.sentAt
}

describe('PendingAck', () => {
  it.each([
    [0, 1, 1],
    [1, 1, 2],
    [3, 2, 2],
    [4, 2, 3],
    [7, 4, 2],
  ])('with %i ahead and %i workers, waits %i handler timeouts and the grace', (ahead, workers, timeouts) => {
    const pending = new PendingAck(TIMEOUT, ahead, MessagePriority.Normal, new SentByPriority())
    expect(lastPatientMoment(pending, workers)).toBe(timeouts * TIMEOUT + ACK_GRACE_MS)
  })

  it('counts as ahead what was sent after it at a higher priority, and nothing at its own or lower', () => {
    const sent = new SentByPriority()
    sent.count(MessagePriority.Critical) // before it: already counted in `ahead` when it is
    const pending = new PendingAck(TIMEOUT, 0, MessagePriority.Normal, sent)
    sent.count(MessagePriority.Normal)
    sent.count(MessagePriority.Low)
    expect(lastPatientMoment(pending, 1)).toBe(TIMEOUT + ACK_GRACE_MS)
    sent.count(MessagePriority.High)
    sent.count(MessagePriority.Critical)
    expect(lastPatientMoment(pending, 1)).toBe(3 * TIMEOUT + ACK_GRACE_MS)
    expect(lastPatientMoment(pending, 2)).toBe(2 * TIMEOUT + ACK_GRACE_MS)
  })

  it('ignores a priority it has no level for, and passes each outcome to the attempt it settles', () => {
    const sent = new SentByPriority()
    sent.count(PRIORITY_LEVELS + 2)
    sent.count(-1)
    expect(sent.above(-1)).toBe(0)
    const pending = new PendingAck(TIMEOUT, 0, MessagePriority.Normal, sent)
    const outcomes: unknown[] = []
    pending.ack() // nothing to settle yet
    const attempt: SettleableAttempt = {
      succeeded: (slow) => outcomes.push(['succeeded', slow]),
      failed: (error, slow) => outcomes.push(['failed', error, slow]),
      withdrawn: (ran) => outcomes.push(['withdrawn', ran]),
    }
    pending.settleInto(attempt)
    pending.ack(true)
    pending.nack('boom', false)
    pending.withdraw()
    pending.withdraw(true)
    expect(outcomes).toEqual([
      ['succeeded', true],
      ['failed', 'boom', false],
      ['withdrawn', false],
      ['withdrawn', true],
    ])
  })
})
