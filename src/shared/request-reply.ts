/**
 * `request` and `respond` as the bus and an endpoint client both offer them, typed by catalog `C`:
 * one declaration for both, whose differences (grants, a connection that ends) are said here.
 */
import type { Catalog, DataOf, TypeOf } from './catalog.js'
import type { BusMessage } from './message.js'
import type { RequestOptions } from './requests.js'
import type { Answer, RespondOptions } from './responder.js'

/** Asking and answering over a bus (`EventBus`) or an endpoint's connection (`BusClient`). */
export interface RequestReply<C extends Catalog> {
  /**
   * Publishes `message` and resolves with the first reply of `options.replyType` that names it
   * (its `correlationId` is the request's id, as `BusMessage.replyTo` sets it), and, with
   * `options.from`, whose source is that module (another's reply is ignored). The request's
   * module (an endpoint's identity) is subscribed to the reply type (BestEffort) by its first
   * request for it, and stays so; an endpoint must be granted to subscribe to it.
   * @throws (rejects) EventBusError `SubscriberUnavailable` at once when no subscription (of
   * `options.from`, when given) took the request, so nothing could answer it (over an endpoint's
   * direct route, which the hub does not see, it waits instead); `DeliveryTimeout` when no reply
   * came within `timeoutMs` (default 5000); `BusShuttingDown` when the bus shut down first,
   * `Disconnected` once an endpoint's connection ends; `Configuration` for invalid options; or the
   * publish's or the subscription's own error (`Unauthorized` for a type an endpoint is not
   * granted)
   */
  request<R extends TypeOf<C>>(
    message: BusMessage<TypeOf<C>, C>,
    options: RequestOptions<R>,
  ): Promise<BusMessage<R, C>>
  /**
   * Answers requests: subscribes `module` (an endpoint's own identity) to `requestType`, delivered
   * in `options.mode` (Reliable by default), and publishes what `answer` returns as each request's
   * reply, of `options.replyType`, from `module` (`BusMessage.replyTo`). A delivery lasts until the
   * reply is taken: an `answer` that throws or returns nothing, or a refused reply, fails it
   * (Reliable: retried, then dead-lettered with the reason). On an endpoint the handler slot is
   * free for the next request's `answer` as soon as the reply is sent (README, *Answering fast*).
   * Resolves with the subscription id, for `unsubscribe`.
   * @throws (rejects) EventBusError `Configuration` for invalid options, a reply type the bus's
   * catalog lacks or an answer that is no function; `Unauthorized` for a reply type an endpoint
   * may not publish or a request type it may not subscribe to; as `subscribe` does for a request
   * type the catalog lacks (`InvalidFilter`)
   */
  respond<Q extends TypeOf<C>, R extends TypeOf<C>>(
    module: string,
    requestType: Q,
    options: RespondOptions<R>,
    answer: Answer<BusMessage<Q, C>, DataOf<R, C>>,
  ): Promise<string>
}
