/**
 * Answering requests, for the bus and an endpoint client alike: a module subscribes to a request
 * type with a function that returns the reply's data, and each request's reply is published for it
 * (`BusMessage.replyTo`: its `correlationId` is the request's id, its priority the request's), as
 * `request` on the other side waits for it. Without it every answering module writes the same
 * subscribe, build and publish by hand, and the reply's refusal is easily lost.
 */
import { z } from 'zod'
import { DeliveryMode, deliveryModeSchema } from './delivery-mode.js'
import { EventBusError } from './errors.js'
import { BusMessage, type Envelope } from './message.js'
import { checkOptions } from './options-check.js'
import type { RequestCarrier } from './requests.js'
import { MAX_LABEL_LENGTH } from './subscribe-arguments.js'
import { isThenable } from './thenable.js'

/** `respond`'s own options: the reply's message type, and the delivery mode of the requests. */
export const respondOptionsSchema = z.strictObject({
  replyType: z.string().min(1),
  mode: deliveryModeSchema.optional(),
})

/** `{ replyType, mode? }`: the type the reply has (`R`), and how requests are delivered (default Reliable). */
export type RespondOptions<R extends string = string> = Omit<
  z.infer<typeof respondOptionsSchema>,
  'replyType'
> & { replyType: R }

/** Computes the data of a request's reply; a throw (or a rejection) fails the request's delivery. */
export type Answer<Request, ReplyData> = (request: Request) => ReplyData | Promise<ReplyData>

const EXPECTED_OPTIONS =
  "respond options are { replyType: a message type, mode?: { kind: 'BestEffort' }, { kind: 'Reliable', timeoutMs? } or { kind: 'LatestOnly' } }"

/** What differs between the bus and an endpoint client when they answer. */
export interface Answering {
  /**
   * What the carrier has against publishing `replyType` (a type its catalog lacks, or one not
   * granted), found before anything is subscribed.
   */
  refuseReplyType(replyType: string): EventBusError | undefined
  /**
   * Sends `reply` and returns what the request's handler returns, so its delivery settles as the
   * reply is taken: the bus publishes it at once and throws a refusal (a handler that returns
   * holds no slot and needs no timer); an endpoint settles the delivery as the hub's answer
   * settles, without holding a handler slot meanwhile (`SettledBy`).
   */
  sendReply(reply: Envelope): unknown
}

/**
 * Subscribes `module` to `requestType` (in `options.mode`, Reliable by default) with a handler that
 * publishes `answer`'s data as the reply, of `options.replyType`, from `module`. A delivery lasts
 * until the reply is taken, so a reply refused (its data wrong for its type, a full queue) fails the
 * delivery with the refusal, as a throwing `answer` does: a Reliable request is retried, then
 * dead-lettered with that reason.
 * @returns (resolves with) the subscription's id, for `unsubscribe`
 */
export function subscribeResponder(
  carrier: Pick<RequestCarrier, 'subscribe'>,
  answering: Answering,
  module: string,
  requestType: string,
  options: unknown,
  answer: unknown,
): Promise<string> {
  try {
    const { replyType, mode = DeliveryMode.Reliable() } = checkOptions(
      respondOptionsSchema,
      options,
      EXPECTED_OPTIONS,
    )
    if (typeof answer !== 'function') {
      throw EventBusError.of('Configuration', {
        reason: "respond: the answer must be a function that returns the reply's data",
      })
    }
    const refused = answering.refuseReplyType(replyType)
    if (refused !== undefined) throw refused
    const reply = (request: Envelope, data: unknown) => {
      if (data === undefined) {
        throw EventBusError.of('MessageRejected', {
          reason: `the answer to ${request.payload.type} ${request.id} returned nothing: it must return the ${replyType} reply's data`,
          issues: [],
        })
      }
      return answering.sendReply(BusMessage.replyTo(request, module, { type: replyType, data }))
    }
    // No `async`: an answer that returns its data at once has its reply sent in the same turn.
    return carrier.subscribe(
      module,
      { types: [requestType] },
      mode,
      (request) => {
        const data: unknown = answer(request)
        return isThenable(data)
          ? Promise.resolve(data).then((resolved) => reply(request, resolved))
          : reply(request, data)
      },
      { label: `answers with ${replyType}`.slice(0, MAX_LABEL_LENGTH) },
    )
  } catch (error) {
    return Promise.reject(error)
  }
}
