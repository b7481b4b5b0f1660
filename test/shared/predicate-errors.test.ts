/**
 * How an endpoint tells its hub about predicates that threw: counted per subscription, once per
 * tick, in frames the hub's schema takes however many there were.
 */
import { describe, expect, it } from 'vitest'
import { PredicateErrors } from '../../src/shared/predicate-errors.js'
import {
  type EndpointFrame,
  endpointFrameSchema,
  MAX_PREDICATE_ERRORS,
  MAX_SUBSCRIPTIONS_PER_PERR,
} from '../../src/shared/wire.js'
import { flushMicrotasks } from '../helpers.js'
import { recordingLink } from './recording-link.js'

/** The `perr` frames sent so far, each checked against the schema the hub reads them with. */
function reports(sent: () => EndpointFrame[][]) {
  const frames = sent().flat()
  for (const frame of frames) expect(endpointFrameSchema.safeParse(frame).success).toBe(true)
  return frames.flatMap((frame) => (frame.t === 'perr' ? [frame.counts] : []))
}

describe('predicate errors at an endpoint', () => {
  it('are summed per subscription over a tick and reported once for it', async () => {
    const { link, sent } = recordingLink()
    const errors = new PredicateErrors(link)
    for (const sid of ['a', 'b', 'a', 'a']) errors.count(sid)
    await flushMicrotasks()
    errors.count('b')
    await flushMicrotasks()
    expect(reports(sent)).toEqual([
      [
        { sid: 'a', count: 3 },
        { sid: 'b', count: 1 },
      ],
      [{ sid: 'b', count: 1 }],
    ])
  })

  it('are reported as soon as one subscription’s count reaches what a report may carry', async () => {
    const { link, sent } = recordingLink()
    const errors = new PredicateErrors(link)
    for (let n = 0; n < MAX_PREDICATE_ERRORS + 2; n++) errors.count('a')
    await flushMicrotasks()
    expect(reports(sent)).toEqual([[{ sid: 'a', count: MAX_PREDICATE_ERRORS }], [{ sid: 'a', count: 2 }]])
  })

  it('from more subscriptions than one report may name go in as many reports as needed', async () => {
    const { link, sent } = recordingLink()
    const errors = new PredicateErrors(link)
    const sids = Array.from({ length: MAX_SUBSCRIPTIONS_PER_PERR * 2 + 1 }, (_, index) => `s${index}`)
    for (const sid of sids) errors.count(sid)
    await flushMicrotasks()
    const counts = reports(sent)
    expect(counts.map((report) => report.length)).toEqual([
      MAX_SUBSCRIPTIONS_PER_PERR,
      MAX_SUBSCRIPTIONS_PER_PERR,
      1,
    ])
    expect(counts.flat()).toEqual(sids.map((sid) => ({ sid, count: 1 })))
  })
})
