/**
 * Batched frames: consecutive deliveries to one subscription (and consecutive publishes) that are
 * queued in the same tick travel as one frame holding an array of messages, over every transport;
 * a frame of publishes leaves as soon as it holds FULL_PUBS_FRAME of them, the next one starts anew.
 * The receiver validates and answers one frame per batch, and nothing per message is allocated for
 * the wire (over text, each message is still encoded on its own, see codec).
 */
import { MAX_FAILURE_TEXT } from './failure-text.js'
import type { Link } from './link.js'
import type { Envelope } from './message.js'
import type { BatchedPublishCount, EndpointFrame, Frame, HubFrame, PublishCount } from './wire.js'

/**
 * Queues delivery `id` of `message` to subscription `sid`: into the `dlvs` frame queued last when
 * it continues that frame, else as a new one (`dlv` for endpoints that read no batches).
 */
export function queueDelivery(
  link: Link<EndpointFrame, HubFrame>,
  batched: boolean,
  sid: string,
  id: number,
  message: Envelope,
  timeoutMs: number,
): void {
  if (!batched) {
    link.send({ t: 'dlv', sid, id, msg: message, timeoutMs })
    return
  }
  const last = link.lastQueued()
  if (
    last?.t === 'dlvs' &&
    last.sid === sid &&
    last.timeoutMs === timeoutMs &&
    last.id + last.msgs.length === id &&
    last.msgs.length < link.maxBatch
  ) {
    last.msgs.push(message)
    return
  }
  link.send({ t: 'dlvs', sid, id, msgs: [message], timeoutMs })
}

/**
 * A `pubs` frame leaves as soon as it holds this many messages instead of at the end of the tick:
 * the hub validates and routes the first messages of a flood while the producer is still
 * publishing the rest, where at the end of the tick it would have started on all of them at once
 * (two hops: +25–30 % messages/s in an interleaved A/B). The hub answers frames of this size before
 * their deliveries leave (its EARLY_ANSWER_BATCH), so a producer awaiting its publishes gets each
 * answer as early as it can. Deliveries keep their frames to the end of the tick: sending them
 * early gained nothing, and cost a direct route ~3 %.
 */
export const FULL_PUBS_FRAME = 64

/**
 * Queues publish request `rid` of `message`: into the `pubs` frame queued last when it continues
 * it, else as a new one. A frame that is full ({@link FULL_PUBS_FRAME}) leaves at once. `count`
 * marks a request's publish, which the hub answers with 0 when no subscription (of `count.module`
 * alone, when given) took it; `again`, a publish sent again after a dropped connection, which the
 * hub takes only if the connection before did not (such publishes travel in frames of their own).
 */
export function queuePublish(
  link: Link<HubFrame, EndpointFrame>,
  rid: number,
  message: Envelope,
  count?: PublishCount,
  again = false,
): void {
  const last = link.lastQueued()
  if (
    last?.t === 'pubs' &&
    last.rid + last.msgs.length === rid &&
    last.msgs.length < link.maxBatch &&
    (last.again === true) === again
  ) {
    if (count !== undefined) {
      const mark = markAt(last.msgs.length, count)
      if (last.count === undefined) last.count = [mark]
      else last.count.push(mark)
    }
    last.msgs.push(message)
    if (last.msgs.length >= FULL_PUBS_FRAME) link.flush()
    return
  }
  // Literals, not spreads: a frame starts here for every publish at low rates.
  if (again) link.send({ t: 'pubs', rid, msgs: [message], again })
  else if (count === undefined) link.send({ t: 'pubs', rid, msgs: [message] })
  else link.send({ t: 'pubs', rid, msgs: [message], count: [markAt(0, count)] })
}

/** A request's mark at index `at` of a `pubs` frame. */
function markAt(at: number, { module }: PublishCount): BatchedPublishCount {
  return module === undefined ? { at } : { at, module }
}

/** The messages `frame` carries: a batch's count, one for any other frame. */
export function messagesIn(frame: Frame): number {
  return frame.t === 'pubs' || frame.t === 'dlvs' ? frame.msgs.length : 1
}

/**
 * A batched frame (`pubs`, `dlvs`) as one frame per message, with the request or delivery id
 * each message had in the batch; a `tail` frame as one frame per entry; any other frame as itself.
 */
export function splitBatch<F extends Frame>(frame: F): F[] {
  if (frame.t === 'tail' && frame.entries.length > 1) {
    return frame.entries.map((entry) => ({ ...frame, entries: [entry] }))
  }
  if ((frame.t !== 'pubs' && frame.t !== 'dlvs') || frame.msgs.length === 1) return [frame]
  if (frame.t === 'dlvs')
    return frame.msgs.map((message, index) => ({ ...frame, id: frame.id + index, msgs: [message] }))
  // A request's mark goes with its message, to the index it has alone.
  const { count, ...publishes } = frame as Extract<EndpointFrame, { t: 'pubs' }>
  return frame.msgs.map((message, index) => {
    const request = count?.find(({ at }) => at === index)
    const alone = { ...publishes, rid: frame.rid + index, msgs: [message] }
    return (request === undefined ? alone : { ...alone, count: [markAt(0, request)] }) as unknown as F
  })
}

/**
 * The nacks that fail each delivery of a `dlv` or `dlvs` frame that could not be sent, as if its
 * endpoint had failed them with `error`: retried, dead-lettered or dropped as its mode says.
 */
export function nacksFor(
  frame: Extract<HubFrame, { t: 'dlv' | 'dlvs' }>,
  error: string,
): Extract<EndpointFrame, { t: 'nack' }>[] {
  return Array.from({ length: messagesIn(frame) }, (_, index) => ({
    t: 'nack' as const,
    id: frame.id + index,
    error: error.slice(0, MAX_FAILURE_TEXT),
    timedOut: false,
  }))
}
