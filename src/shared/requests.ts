/**
 * Request and reply over the bus, for the bus, an endpoint client and a window alike: publish a
 * message and wait for the first reply of a given type that names it (its `correlationId` is the
 * request's id, as `BusMessage.replyTo` sets it). Without it every caller writes the same
 * bookkeeping by hand: a subscription that is live before the request goes out, a table of what
 * waits, a timeout, and what happens to the waiting when the connection ends.
 */
import { z } from 'zod'
import { moduleIdSchema } from './catalog.js'
import { LONGEST_WAIT_MS } from './clock.js'
import { DeliveryMode } from './delivery-mode.js'
import { EventBusError } from './errors.js'
import type { Envelope } from './message.js'
import { checkOptions } from './options-check.js'
import { timeoutAfterInput } from './peer-timers.js'
import type { SubscribeOptions } from './subscribe-arguments.js'

/** How long a request waits for its reply unless told otherwise (the bus's default delivery timeout). */
export const DEFAULT_REPLY_TIMEOUT_MS = 5000

/**
 * How long a request refused for want of any subscription that could answer it suggests waiting
 * before asking again (`SubscriberUnavailable`'s `retryAfterMs`): about what a module takes to
 * start and subscribe.
 */
export const NO_ANSWERER_RETRY_AFTER_MS = 1000

/**
 * How `request` publishes, on a bus, an endpoint client or a window's connection: as `publish`
 * does, resolving with 0 when no subscription took the message (none of module `from`'s, when
 * given), else with how many did or `undefined` (the hub says only when none did; over a direct
 * route the route's terms say, or the hub for its copy to the type's other subscribers when none of
 * the consumer's subscriptions takes it). A symbol, not a method name: it is the
 * requests' own, not part of the public API.
 */
export const publishRequest: unique symbol = Symbol('skelly.publishRequest')

/** How the inspector tells a module's subscription for its requests' replies from its others. */
const REPLIES_LABEL: SubscribeOptions = { label: 'replies to its requests' }

/**
 * `request`'s own options: the reply's message type, how long to wait for it, and the module it
 * must come from (`from`: a reply of another source naming the request is ignored, as one of
 * another type is). Across a port a source is the publisher's attached identity, which the hub
 * and a direct route's consumer check, so `from` says who answered, not who claims to.
 */
export const requestOptionsSchema = z.strictObject({
  replyType: z.string().min(1),
  timeoutMs: z.number().int().positive().max(LONGEST_WAIT_MS).optional(),
  from: moduleIdSchema.optional(),
})

/**
 * `{ replyType, timeoutMs?, from? }`: the type the reply has (`R`), how long to wait for it
 * (default 5 s), and the only module whose reply counts (any, unless given).
 */
export type RequestOptions<R extends string = string> = Omit<
  z.infer<typeof requestOptionsSchema>,
  'replyType'
> & { replyType: R }

/**
 * What requests (and `respond`'s answers) need of a bus, an endpoint client or a window: to
 * subscribe as a module, resolving with the subscription's id, and to publish a request, telling
 * how many subscriptions took it ({@link publishRequest}).
 */
export interface RequestCarrier {
  subscribe(
    module: string,
    filter: { types: string[] },
    mode: DeliveryMode,
    handler: (message: Envelope) => unknown,
    options: SubscribeOptions,
  ): Promise<string>
  [publishRequest](message: Envelope, from: string | undefined): Promise<number | undefined>
}

/** A request waiting for its reply. */
interface Waiting {
  readonly replyType: string
  /** The only source whose reply counts; any when undefined. */
  readonly from: string | undefined
  resolve(reply: Envelope): void
  reject(error: unknown): void
  cancelTimeout(): void
}

/**
 * `request`'s options, checked: a misspelt key or a timeout that is no whole number of
 * milliseconds is refused rather than ignored.
 * @throws EventBusError `Configuration` naming what is wrong
 */
export function checkRequestOptions(options: unknown): RequestOptions {
  return checkOptions(
    requestOptionsSchema,
    options,
    `request options are { replyType: a message type, timeoutMs?: 1 to ${LONGEST_WAIT_MS} ms, from?: a module id }`,
  )
}

function noReply(
  request: Envelope,
  replyType: string,
  from: string | undefined,
  timeoutMs: number,
): EventBusError {
  const answerer = from === undefined ? 'a module' : `'${from}'`
  return new EventBusError(
    { kind: 'DeliveryTimeout', elapsedMs: timeoutMs },
    `DeliveryTimeout: no ${replyType}${from === undefined ? '' : ` from '${from}'`} replied to ${request.payload.type} ${request.id} within ${timeoutMs} ms; ` +
      `does ${answerer} subscribe to ${request.payload.type} and answer with BusMessage.replyTo? (or raise timeoutMs)`,
  )
}

/** The refusal of a request no subscription (of `from`, when given) took: nothing could answer it. */
function noAnswerer(request: Envelope, replyType: string, from: string | undefined): EventBusError {
  const type = request.payload.type
  const taker = from === undefined ? 'no subscription' : `no subscription of '${from}'`
  return new EventBusError(
    { kind: 'SubscriberUnavailable', subscriber: from ?? '*', retryAfterMs: NO_ANSWERER_RETRY_AFTER_MS },
    `SubscriberUnavailable: ${taker} takes ${type}, so no ${replyType} can answer request ${request.id}; ` +
      `retry once ${from === undefined ? 'a module' : `'${from}'`} subscribes to ${type} (in ${NO_ANSWERER_RETRY_AFTER_MS} ms, say)`,
  )
}

/**
 * The requests of one bus, client or window. A module's first request for a reply type subscribes
 * it to that type (BestEffort, which the inspector shows); the subscription stays for the next
 * requests, so a request costs one publish and one delivery. Replies that name no waiting request
 * (late, or another's) are delivered to it and ignored.
 */
export class Requests {
  /** The subscription of each (module, reply type), made by the first request that needed it. */
  private readonly listening = new Map<string, Promise<unknown>>()
  /** By request id. */
  private readonly waiting = new Map<string, Waiting>()
  private endedWith: EventBusError | undefined

  /**
   * @param identity the module an endpoint or a window is bound to (read when a request is made:
   * a client learns it from the hub's welcome): its subscriptions for replies are its own whatever
   * a request's source says, a wrong source being the publish's to refuse. The bus, which serves
   * every module, has none and subscribes each request's source.
   */
  constructor(
    private readonly carrier: RequestCarrier,
    private readonly identity?: () => string,
  ) {}

  /**
   * Publishes `message` and resolves with the first `replyType` message whose `correlationId` is
   * its id. Rejects with the publish's or the subscription's error, `SubscriberUnavailable` at once
   * when no subscription (of `from`, when given) took the request, `DeliveryTimeout` when no reply
   * came within `timeoutMs`, or the error that ended the carrier (`end`).
   */
  async request(message: Envelope, options: unknown): Promise<Envelope> {
    if (this.endedWith !== undefined) throw this.endedWith
    const { replyType, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS, from } = checkRequestOptions(options)
    if (
      typeof message !== 'object' ||
      message === null ||
      typeof message.id !== 'string' ||
      typeof message.source !== 'string'
    ) {
      throw EventBusError.of('MessageRejected', {
        reason: 'request takes a message (BusMessage.create(...)) with a string id and source',
        issues: [],
      })
    }
    await this.listen(this.identity?.() ?? message.source, replyType)
    // Checked once listening: two requests with one id could both have passed a check before it.
    if (this.waiting.has(message.id)) {
      throw EventBusError.of('MessageRejected', {
        reason: `a request with id '${message.id}' is waiting for its reply already; each request needs a message of its own`,
        issues: [],
      })
    }
    const reply = new Promise<Envelope>((resolve, reject) => {
      const cancelTimeout = timeoutAfterInput(timeoutMs, () => {
        this.waiting.delete(message.id)
        reject(noReply(message, replyType, from, timeoutMs))
      })
      this.waiting.set(message.id, { replyType, from, resolve, reject, cancelTimeout })
    })
    try {
      // Nothing took the request, so no reply can come: said now rather than at the timeout.
      if ((await this.carrier[publishRequest](message, from)) === 0)
        this.settle(message.id)?.reject(noAnswerer(message, replyType, from))
    } catch (error) {
      this.settle(message.id)?.reject(error)
    }
    return reply
  }

  /** Rejects every waiting request with `error`, and every later one. */
  end(error: EventBusError): void {
    this.endedWith = error
    for (const id of [...this.waiting.keys()]) this.settle(id)?.reject(error)
    this.listening.clear()
  }

  private listen(module: string, replyType: string): Promise<unknown> {
    const key = `${module}\u0000${replyType}`
    let listening = this.listening.get(key)
    if (listening === undefined) {
      listening = this.carrier.subscribe(
        module,
        { types: [replyType] },
        DeliveryMode.BestEffort,
        (reply) => this.arrived(reply),
        REPLIES_LABEL,
      )
      // A refused subscription (an ungranted or unknown type) is tried again by the next request.
      listening.catch(() => this.listening.delete(key))
      this.listening.set(key, listening)
    }
    return listening
  }

  private arrived(reply: Envelope): void {
    const id = reply.correlationId
    if (id === undefined) return
    const waiting = this.waiting.get(id)
    if (waiting === undefined || waiting.replyType !== reply.payload.type) return
    if (waiting.from !== undefined && waiting.from !== reply.source) return
    this.settle(id)?.resolve(reply)
  }

  /** Takes a request out of the waiting, its timeout cancelled. */
  private settle(id: string): Waiting | undefined {
    const waiting = this.waiting.get(id)
    if (waiting === undefined) return undefined
    this.waiting.delete(id)
    waiting.cancelTimeout()
    return waiting
  }
}
