/**
 * How deliveries and publishes are gathered into batched frames: only what continues the frame
 * queued last joins it, so a batch, split again, gives back each message with its own subscription,
 * id, time limit and request marks.
 */
import { describe, expect, it } from 'vitest'
import { ModuleId } from '../../src/main/bus/index.js'
import {
  FULL_PUBS_FRAME,
  nacksFor,
  queueDelivery,
  queuePublish,
  splitBatch,
} from '../../src/shared/batching.js'
import type { HubFrame } from '../../src/shared/wire.js'
import { flushMicrotasks, rawMessage } from '../helpers.js'
import { recordingHubLink, recordingLink } from './recording-link.js'

/** The frames sent so far, in order, whatever unit each went in. */
async function framesSent<F>(sent: () => F[][]): Promise<F[]> {
  await flushMicrotasks()
  return sent().flat()
}

/** A frame of deliveries as its subscription, first id, time limit and message count. */
function outline(frame: HubFrame) {
  return frame.t === 'dlvs' ? [frame.sid, frame.id, frame.timeoutMs, frame.msgs.length] : frame.t
}

describe('deliveries queued in one tick', () => {
  it('join the frame queued last only when they continue it: same subscription and time limit, the next id', async () => {
    const { link, sent } = recordingHubLink()
    const deliver = (sid: string, id: number, timeoutMs = 100) =>
      queueDelivery(link, true, sid, id, rawMessage(), timeoutMs)
    deliver('a', 1)
    deliver('a', 2)
    deliver('a', 3)
    deliver('b', 4) // another subscription
    deliver('b', 5, 200) // another time limit
    deliver('b', 7, 200) // an id skipped
    link.send({ t: 'pong' })
    deliver('b', 8, 200) // continues a frame that is no longer the last
    expect((await framesSent(sent)).map(outline)).toEqual([
      ['a', 1, 100, 3],
      ['b', 4, 100, 1],
      ['b', 5, 200, 1],
      ['b', 7, 200, 1],
      'pong',
      ['b', 8, 200, 1],
    ])
  })

  it('start a new frame when the last holds what the link carries in one', async () => {
    const { link, sent } = recordingHubLink('text')
    for (let id = 1; id <= link.maxBatch + 1; id++) queueDelivery(link, true, 'a', id, rawMessage(), 100)
    expect((await framesSent(sent)).map(outline)).toEqual([
      ['a', 1, 100, link.maxBatch],
      ['a', link.maxBatch + 1, 100, 1],
    ])
  })

  it('go one a frame to an endpoint that reads no batches', async () => {
    const { link, sent } = recordingHubLink()
    for (let id = 1; id <= 3; id++) queueDelivery(link, false, 'a', id, rawMessage(), 100)
    const frames = await framesSent(sent)
    expect(frames.map((frame) => (frame.t === 'dlv' ? frame.id : frame.t))).toEqual([1, 2, 3])
  })
})

describe('publishes queued in one tick', () => {
  it('join the frame queued last only when they continue it, resends apart, each request marked at its index', async () => {
    const { link, sent } = recordingLink()
    queuePublish(link, 1, rawMessage(), {})
    queuePublish(link, 2, rawMessage())
    queuePublish(link, 3, rawMessage(), { module: ModuleId.Storage })
    queuePublish(link, 5, rawMessage()) // a request id skipped
    queuePublish(link, 6, rawMessage(), undefined, true) // a resend after a dropped connection
    queuePublish(link, 7, rawMessage(), { module: ModuleId.Storage }, true)
    queuePublish(link, 8, rawMessage()) // not a resend
    const frames = await framesSent(sent)
    expect(
      frames.map((frame) =>
        frame.t === 'pubs'
          ? { rid: frame.rid, n: frame.msgs.length, count: frame.count, again: frame.again }
          : frame.t,
      ),
    ).toEqual([
      { rid: 1, n: 3, count: [{ at: 0 }, { at: 2, module: ModuleId.Storage }], again: undefined },
      { rid: 5, n: 1, count: undefined, again: undefined },
      { rid: 6, n: 2, count: [{ at: 1, module: ModuleId.Storage }], again: true },
      { rid: 8, n: 1, count: undefined, again: undefined },
    ])
  })

  it(`leave in frames of ${FULL_PUBS_FRAME} even where the link would carry more`, async () => {
    const { link, sent } = recordingLink('clone')
    expect(link.maxBatch).toBeGreaterThan(FULL_PUBS_FRAME)
    for (let rid = 1; rid <= FULL_PUBS_FRAME + 1; rid++) queuePublish(link, rid, rawMessage())
    const frames = await framesSent(sent)
    expect(frames.map((frame) => (frame.t === 'pubs' ? [frame.rid, frame.msgs.length] : frame.t))).toEqual([
      [1, FULL_PUBS_FRAME],
      [FULL_PUBS_FRAME + 1, 1],
    ])
  })
})

describe('a batch split into single frames', () => {
  it('gives each delivery its own id, and each publish its own request id and mark', () => {
    const [first, second, third] = [rawMessage(), rawMessage(), rawMessage()]
    expect(splitBatch({ t: 'dlvs', sid: 'a', id: 7, msgs: [first, second], timeoutMs: 100 })).toEqual([
      { t: 'dlvs', sid: 'a', id: 7, msgs: [first], timeoutMs: 100 },
      { t: 'dlvs', sid: 'a', id: 8, msgs: [second], timeoutMs: 100 },
    ])
    const marks = [{ at: 0 }, { at: 2, module: ModuleId.Storage }]
    expect(splitBatch({ t: 'pubs', rid: 4, msgs: [first, second, third], count: marks })).toEqual([
      { t: 'pubs', rid: 4, msgs: [first], count: [{ at: 0 }] },
      { t: 'pubs', rid: 5, msgs: [second] },
      { t: 'pubs', rid: 6, msgs: [third], count: [{ at: 0, module: ModuleId.Storage }] },
    ])
  })

  it('nacks each delivery of a frame that could not be sent, under its own id, the reason bounded', () => {
    const nacks = nacksFor(
      { t: 'dlvs', sid: 'a', id: 7, msgs: [rawMessage(), rawMessage()], timeoutMs: 100 },
      'x'.repeat(5000),
    )
    expect(nacks.map(({ id, timedOut }) => [id, timedOut])).toEqual([
      [7, false],
      [8, false],
    ])
    for (const nack of nacks) expect(nack.error).toBe('x'.repeat(4096))
  })
})
