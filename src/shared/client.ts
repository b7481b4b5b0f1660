/**
 * The endpoint client: the bus's publish / subscribe / unsubscribe / metrics over a port, for
 * renderer windows, utility modules and outside processes. It speaks to the hub (requests and their
 * answers, streams); handlers run here (local-subscriptions), their acks (batched) and nacks going
 * back, so the hub's accounting, latency and timeouts mean the same as in process; direct channels
 * carry the routed types (direct-channels). Types, sources and minimum priority are filtered in the
 * hub; predicates run here.
 */

import { z } from 'zod'
import { Acknowledger } from './acknowledger.js'
import { messagesIn, queuePublish } from './batching.js'
import {
  type BuiltinCatalog,
  type Catalog,
  claimsOtherSource,
  extendCatalog,
  moduleIdSchema,
  type TypeOf,
} from './catalog.js'
import { LONGEST_WAIT_MS } from './clock.js'
import type { DeadLetterEntry, DeadLetterFilter, DeadLetterSelector, ReplayResult } from './dead-letter.js'
import type { DeliveryMode } from './delivery-mode.js'
import { DirectChannels, unsendableReport } from './direct-channels.js'
import { describeThrown, EventBusError, firstIssue, kindOf } from './errors.js'
import { type FilterInput, MessageFilter, type PlainFilter, type TypesKnownOnlyAtRunTime } from './filter.js'
import { InFlight } from './in-flight.js'
import { Link } from './link.js'
import { notifyAll, notifyEachOwnCopy } from './listeners.js'
import {
  type ClientHandler,
  LocalSubscriptions,
  SettledBy,
  type SubscriptionTerms,
} from './local-subscriptions.js'
import type { BusMessage, Envelope } from './message.js'
import type { BusMetrics, InspectorStreamName, MetricsPoint } from './metrics-snapshot.js'
import { timeoutAfterInput } from './peer-timers.js'
import { type PortInput, PortsGiven, toPort } from './port.js'
import { PredicateErrors } from './predicate-errors.js'
import type { RequestReply } from './request-reply.js'
import { publishRequest, type RequestCarrier, type RequestOptions, Requests } from './requests.js'
import { type RespondOptions, subscribeResponder } from './responder.js'
import { checkSubscribeArguments, type SubscribeOptions } from './subscribe-arguments.js'
import { framesCounted, UnreadableFrames } from './unreadable-frames.js'
import {
  type EndpointFrame,
  type HubFrame,
  hubFrameSchema,
  mayPublish,
  type Permissions,
  PROTOCOL_VERSION,
  type TailEntry,
} from './wire.js'

const connectOptionsSchema = z
  .object({
    /** The identity this endpoint expects; a different one from the hub rejects with `Unauthorized`. */
    module: moduleIdSchema.optional(),
    /** How long to wait for the hub's welcome (ms, default 10000). */
    connectTimeoutMs: z.number().int().min(1).max(LONGEST_WAIT_MS).optional(),
    /**
     * Extra message types this endpoint publishes or handles over direct channels, which validate
     * messages on the endpoint as the bus does (the built-in types are always known). A routed type
     * missing here keeps going through the hub.
     */
    catalog: z.custom<Catalog>().optional(),
  })
  .strict()
/** `connectBus`'s options: the identity expected, the connect timeout and extra message types. */
export type ConnectOptions = z.infer<typeof connectOptionsSchema>

/**
 * `connectBus`'s options, checked before the port is touched: a misspelt one would otherwise be
 * ignored, and a bad identity found only when the welcome never matched it.
 * @throws EventBusError `Configuration` naming the option
 */
function checkConnectOptions(options: unknown): { options: ConnectOptions; catalog: Catalog } {
  const parsed = connectOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) {
    throw EventBusError.of('Configuration', {
      reason: `connectBus: ${firstIssue(parsed.error, 'options')} (expected { module?, connectTimeoutMs?: 1 to ${LONGEST_WAIT_MS}, catalog? })`,
    })
  }
  return { options: parsed.data, catalog: extendCatalog(parsed.data.catalog) }
}

export type { ClientHandler }

/** Dead-letter operations for endpoints granted `inspect`. */
export interface RemoteDeadLetters {
  /** The bus's dead letters, oldest first, optionally filtered. */
  list(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>
  /** Enqueues the selected entries again for their subscription (or routes them afresh), as the bus's `replay`. */
  replay(selector: DeadLetterSelector | string): Promise<ReplayResult>
  /** Removes the selected entries (all without a selector); resolves with how many. */
  purge(selector?: DeadLetterSelector | string): Promise<number>
}

/**
 * How a window publishes again, on its new connection, a publish its dropped connection left
 * unanswered: the hub may have taken it before the drop, so it goes marked `again` and the hub
 * takes it only if no connection of the module took it before. A symbol, not a method name: the
 * window's own, not part of the public API.
 */
export const publishAgain: unique symbol = Symbol('skelly.publishAgain')

/**
 * How a window subscribes again, on its new connection, what it held on its dropped one:
 * `client[resuming](previousId)` subscribes (or responds) as the client does, asking the hub for
 * the subscription `previousId` back should it have parked it (a Reliable one, with the same filter
 * and mode), and for no other. A symbol, not a method name: the window's own, not part of the
 * public API.
 */
export const resuming: unique symbol = Symbol('skelly.resuming')

/** What a window subscribes with, on a connection or to resume a subscription: see {@link resuming}. */
export type Subscriber<C extends Catalog = BuiltinCatalog> = Pick<BusClient<C>, 'subscribe' | 'respond'>

/** The bus, as an endpoint sees it. `C` is the catalog it publishes and handles. */
export interface BusClient<C extends Catalog = BuiltinCatalog> extends RequestReply<C> {
  /** The identity the hub bound to this endpoint. */
  readonly module: string
  /** What the hub granted this endpoint. */
  readonly permissions: Permissions
  /** Whether the connection is still open; calls on a closed one reject with `Disconnected`. */
  readonly isOpen: boolean
  /**
   * Publishes as the bus does: validated, routed, resolved with the message id once the hub (or a
   * direct route) has taken it. Its `source` must be this endpoint's identity and its type granted,
   * or it rejects with `Unauthorized`.
   */
  publish(message: BusMessage<TypeOf<C>, C>): Promise<string>
  /** How `request` publishes, here and for a window on this connection: see {@link publishRequest}. */
  [publishRequest](message: Envelope, from: string | undefined): Promise<number | undefined>
  /** How a window publishes again what a dropped connection left unanswered: see {@link publishAgain}. */
  [publishAgain](message: Envelope): Promise<string>
  /** How a window subscribes again what a dropped connection held: see {@link resuming}. */
  [resuming](previousId: string): Subscriber<C>
  /**
   * Subscribes as the bus does; `module` must be this endpoint's identity, and a filter may list only
   * granted types (one listing none is narrowed to them). `options.label` says what the
   * subscription is for, shown by the inspector. Live once it resolves.
   */
  subscribe<T extends TypeOf<C>>(
    module: string,
    filter: FilterInput<T>,
    mode: DeliveryMode,
    handler: ClientHandler<BusMessage<T, C>>,
    options?: SubscribeOptions,
  ): Promise<string>
  /**
   * The same for a filter that names no types, or names them only at run time (`string[]`): its
   * handler sees every type. A filter naming a type the catalog lacks fails to compile.
   */
  subscribe<T extends string>(
    module: string,
    filter: FilterInput<T> & TypesKnownOnlyAtRunTime<T>,
    mode: DeliveryMode,
    handler: ClientHandler<BusMessage<TypeOf<C>, C>>,
    options?: SubscribeOptions,
  ): Promise<string>
  /** Ends one of this endpoint's subscriptions at once, as the bus's `unsubscribe`. */
  unsubscribe(subscriptionId: string): Promise<void>
  /** Requires `inspect`. */
  metrics(): Promise<BusMetrics>
  /**
   * Requires `inspect`: the charted fields of the bus's state, which the hub keeps each metrics
   * interval for two minutes (oldest first), so a chart opened now starts with what came before.
   */
  metricsHistory(): Promise<MetricsPoint[]>
  /** Requires `inspect`. */
  readonly deadLetters: RemoteDeadLetters
  /**
   * Requires `inspect`: a metrics snapshot every `metricsIntervalMs`, each listener its own copy.
   * Resolves with a function that stops it once the hub has the stream on; rejects when the hub
   * refuses it, as does every listener that came while the hub was being asked.
   */
  onMetrics(listener: (snapshot: BusMetrics) => void): Promise<() => void>
  /**
   * Requires `inspect`: published messages, in batches (`sampled` when some were skipped under load;
   * a batch with no entries says only that, or, after one that said so, that the skipping is over),
   * each listener a copy of its own. Resolves and rejects as `onMetrics` does.
   */
  onTail(listener: (entries: TailEntry[], sampled: boolean) => void): Promise<() => void>
  /** Called once when the connection ends, whoever ended it. */
  onClose(listener: (reason: string) => void): void
  /** Ends the connection on purpose: this endpoint's subscriptions end at once. */
  close(): Promise<void>
}

/** What the client's `subscribe` takes, resuming or not. */
type SubscribeArguments = [
  module: string,
  filter: FilterInput<string>,
  mode: DeliveryMode,
  handler: ClientHandler<never>,
  options?: SubscribeOptions,
]
/** What the client's `respond` takes, resuming or not. */
type RespondArguments = [module: string, requestType: string, options: RespondOptions, answer: unknown]

/** Settles a promise someone waits on. */
interface Settler {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** Runs synchronously when the hub's answer is read, before frames after it in the same unit. */
type OnAnswer = (ok: unknown) => void

/** A request waiting for the hub's answer (no closure per request: publishes make millions). */
class Request implements Settler {
  // Set by the executor of the promise `request` makes with it, which runs synchronously.
  resolve!: (value: unknown) => void
  reject!: (error: unknown) => void

  /** `answer`, when given, is what the request resolves with instead of the hub's `ok`. */
  constructor(
    private readonly onAnswer: OnAnswer | undefined,
    private readonly answer: unknown,
  ) {}

  answered(ok: unknown): void {
    this.onAnswer?.(ok)
    this.resolve(this.answer === undefined ? ok : this.answer)
  }
}

class Client implements BusClient<Catalog> {
  module = ''
  permissions: Permissions = { publish: [], subscribe: [] }
  readonly deadLetters: RemoteDeadLetters
  private readonly link: Link<HubFrame, EndpointFrame>
  /** What was asked of the hub (`askHub`), by request id, until its answer comes. */
  private readonly awaitingHub = new InFlight<Request>()
  /** What `request` published, until its reply comes. */
  private readonly awaitingReplies = new Requests(this, () => this.module)
  private nextRequestId = 1
  private readonly subscriptions: LocalSubscriptions
  private readonly channels: DirectChannels
  private readonly hubAcks: Acknowledger
  private metricsListeners = new Set<(snapshot: BusMetrics) => void>()
  private tailListeners = new Set<(entries: TailEntry[], sampled: boolean) => void>()
  /** The hub's answer to turning each stream on, asked for its first listener, until its last stops. */
  private readonly streamsAsked = new Map<InspectorStreamName, Promise<unknown>>()
  private closeListeners: ((reason: string) => void)[] = []
  private closedReason: string | undefined
  private welcomed: Settler | undefined
  private readonly unreadableFromHub = new UnreadableFrames((count, reason) =>
    console.error(
      `skelly-bus: ${framesCounted(count)} from the hub could not be read, dropped (is the hub of another version?): ${reason}`,
    ),
  )

  constructor(port: PortInput, catalog: Catalog) {
    this.link = new Link(toPort(port), hubFrameSchema, {
      frame: (frame, ports) => this.receive(frame, ports),
      // The hub speaks the protocol: an unreadable frame from it (a mismatched version) is dropped
      // rather than answered, and said in the console.
      invalid: (reason) => this.unreadableFromHub.add(reason),
      unsendable: (frame, reason) => this.unsendable(frame, reason),
      closed: (reason) => this.ended(reason),
    })
    // The hub reads batches as rows beside templates from any endpoint (see message-shapes).
    this.link.shapeBatches()
    this.hubAcks = new Acknowledger(this.link)
    this.subscriptions = new LocalSubscriptions(this.hubAcks, new PredicateErrors(this.link))
    this.channels = new DirectChannels(
      {
        adopt: (received) => this.link.adopt(received),
        toHub: (outbound) => this.link.send(outbound),
        publishCopy: (message, via, seq) =>
          this.askHub({ t: 'pub', msg: message, via, seq }, undefined, message.id) as Promise<string>,
        requestCopy: (message, via, seq, count) =>
          this.askHub({ t: 'pub', msg: message, via, seq, count }) as Promise<number | undefined>,
        deliver: (frame, via) => this.subscriptions.deliverFrame(frame, via),
        isReliable: (sid) => this.subscriptions.isReliable(sid),
      },
      catalog,
    )
    this.deadLetters = {
      list: (filter) =>
        this.askHub({ t: 'dlq', op: 'list', selector: filter ?? {} }) as Promise<DeadLetterEntry[]>,
      replay: (selector) => this.askHub({ t: 'dlq', op: 'replay', selector }) as Promise<ReplayResult>,
      purge: (selector) => this.askHub({ t: 'dlq', op: 'purge', selector }) as Promise<number>,
    }
  }

  get isOpen(): boolean {
    return this.closedReason === undefined
  }

  /**
   * Sends hello and resolves once the hub's welcome arrives. `resends`: this connection's owner
   * sends again, on its next connection, what a drop left unanswered (a window: {@link publishAgain}).
   */
  handshake(options: ConnectOptions, resends: boolean): Promise<this> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000
    return new Promise<this>((resolve, reject) => {
      const cancelTimeout = timeoutAfterInput(timeoutMs, () => {
        reject(EventBusError.of('Disconnected', { reason: `no welcome from the hub within ${timeoutMs} ms` }))
        this.link.close()
      })
      this.welcomed = {
        resolve: () => {
          cancelTimeout()
          if (options.module !== undefined && options.module !== this.module) {
            reject(
              new EventBusError(
                { kind: 'Unauthorized', module: options.module, action: 'attach' },
                `Unauthorized: the hub attached this port as '${this.module}', not as '${options.module}' (connectBus's options.module); the main process chooses the identity`,
              ),
            )
            this.link.close()
            return
          }
          resolve(this)
        },
        reject: (error) => {
          cancelTimeout()
          reject(error)
        },
      }
      this.link.send({
        t: 'hello',
        v: PROTOCOL_VERSION,
        ...(options.module ? { module: options.module } : {}),
        batch: true,
        slow: true,
        shapes: true,
        ...(resends ? { again: true } : {}),
      })
    })
  }

  publish(message: Envelope): Promise<string> {
    return this.readMessage(message, () => this.publishMessage(message))
  }

  [publishRequest](message: Envelope, from: string | undefined): Promise<number | undefined> {
    return this.readMessage(message, () => {
      // Over a direct route the request goes past the hub: the route's terms say who takes it, or
      // the hub does for its copy to the subscriptions the route does not serve.
      const direct = this.channels.producingFor(message.payload?.type)
      if (direct !== undefined) return this.refusedSource(message) ?? direct.publishRequest(message, from)
      const count = from === undefined ? {} : { module: from }
      return this.askHub((rid) => queuePublish(this.link, rid, message, count)) as Promise<number | undefined>
    })
  }

  // Through the hub even for a type this endpoint sends over a direct route: only the hub knows
  // what the connection before took, and its path reaches every subscriber.
  [publishAgain](message: Envelope): Promise<string> {
    return this.readMessage(
      message,
      () =>
        this.askHub(
          (rid) => queuePublish(this.link, rid, message, undefined, true),
          undefined,
          message.id,
        ) as Promise<string>,
    )
  }

  /** Runs `send` with `message`, refusing what is no message or cannot be read as the bus does. */
  private readMessage<T>(message: Envelope, send: () => Promise<T>): Promise<T> {
    if (typeof message !== 'object' || message === null) {
      return Promise.reject(
        EventBusError.of('MessageRejected', {
          reason: `publish takes a message (BusMessage.create(...)), not ${kindOf(message)}`,
          issues: [],
        }),
      )
    }
    try {
      return send()
    } catch (error) {
      // Reading the message threw (a getter or a Proxy's trap): refused, as the bus refuses it.
      return Promise.reject(
        EventBusError.of('MessageRejected', {
          reason: `the message could not be read: ${describeThrown(error)}`,
          issues: [],
        }),
      )
    }
  }

  /**
   * The refusal of a message that claims another module's source, for the paths that go past the
   * hub (a direct route), which would otherwise check it; `undefined` when the source is ours.
   */
  private refusedSource(message: Envelope): Promise<never> | undefined {
    if (!claimsOtherSource(message.source, this.module)) return undefined
    return Promise.reject(
      EventBusError.of('Unauthorized', { module: this.module, action: 'source', type: message.payload.type }),
    )
  }

  private publishMessage(message: Envelope): Promise<string> {
    const direct = this.channels.producingFor(message.payload?.type)
    if (direct !== undefined) return this.refusedSource(message) ?? direct.publish(message)
    // The hub answers accepted publishes in ranges, without echoing ids: the answer is the id here.
    return this.askHub(
      (rid) => queuePublish(this.link, rid, message),
      undefined,
      message.id,
    ) as Promise<string>
  }

  // The reply's type is the one the interface promises: `Requests` takes only `replyType`'s.
  request(message: Envelope, options: RequestOptions): Promise<never> {
    return this.awaitingReplies.request(message, options) as Promise<never>
  }

  respond(...args: RespondArguments): Promise<string> {
    return this.respondResuming(undefined, ...args)
  }

  subscribe(...args: SubscribeArguments): Promise<string> {
    return this.subscribeResuming(undefined, ...args)
  }

  [resuming](previousId: string): Subscriber<Catalog> {
    return {
      subscribe: (...args: SubscribeArguments) => this.subscribeResuming(previousId, ...args),
      respond: (...args: RespondArguments) => this.respondResuming(previousId, ...args),
    }
  }

  /** `respond`, asking the hub for `previousId` back (see {@link resuming}) when it is given. */
  private respondResuming(
    previousId: string | undefined,
    ...[module, requestType, options, answer]: RespondArguments
  ): Promise<string> {
    const answering = {
      refuseReplyType: (replyType: string) =>
        mayPublish(this.permissions, replyType)
          ? undefined
          : EventBusError.of('Unauthorized', { module: this.module, action: 'publish', type: replyType }),
      sendReply: (reply: Envelope) => new SettledBy(this.publish(reply as never)),
    }
    const carrier = {
      subscribe: (...args: Parameters<RequestCarrier['subscribe']>) =>
        this.subscribeResuming(previousId, ...args),
    }
    return subscribeResponder(carrier, answering, module, requestType, options, answer)
  }

  /** `subscribe`, asking the hub for `previousId` back (see {@link resuming}) when it is given. */
  private subscribeResuming(
    previousId: string | undefined,
    ...[module, filter, mode, handler, options]: SubscribeArguments
  ): Promise<string> {
    if (module !== this.module) {
      return Promise.reject(EventBusError.of('Unauthorized', { module: this.module, action: 'subscribe' }))
    }
    let label: string | undefined
    try {
      // Types are left to the hub, whose bus may know types this endpoint's catalog does not.
      label = checkSubscribeArguments(filter, mode, handler, options, () => true).label
    } catch (error) {
      return Promise.reject(error)
    }
    const isBuilder = filter instanceof MessageFilter
    const plain: PlainFilter = isBuilder ? filter.toPlain() : filter
    const predicate = isBuilder ? (filter.predicate as SubscriptionTerms['predicate']) : undefined
    // Registered as the answer is read: the hub may send the first deliveries in the same unit.
    const settled = this.subscriptions.subscribing()
    const frame = {
      t: 'sub',
      module,
      filter: plain,
      mode,
      ...(label === undefined ? {} : { label }),
      ...(previousId === undefined ? {} : { resumes: previousId }),
    } as const
    const answer = this.askHub(frame, (id) =>
      this.subscriptions.add(id as string, {
        handler: handler as ClientHandler<Envelope>,
        predicate,
        reliable: mode.kind === 'Reliable',
      }),
    ) as Promise<string>
    answer.then(settled, settled)
    return answer
  }

  unsubscribe(subscriptionId: string): Promise<void> {
    if (typeof subscriptionId !== 'string') {
      // No subscription has such an id, as the bus answers it.
      return Promise.reject(
        EventBusError.of('SubscriptionNotFound', { subscriptionId: String(subscriptionId) }),
      )
    }
    this.subscriptions.drop(subscriptionId)
    return this.askHub({ t: 'unsub', sid: subscriptionId }) as Promise<void>
  }

  metrics(): Promise<BusMetrics> {
    return this.askHub({ t: 'metrics' }) as Promise<BusMetrics>
  }

  metricsHistory(): Promise<MetricsPoint[]> {
    return this.askHub({ t: 'history' }) as Promise<MetricsPoint[]>
  }

  onMetrics(listener: (snapshot: BusMetrics) => void): Promise<() => void> {
    return this.startStream('metrics', this.metricsListeners, listener)
  }

  onTail(listener: (entries: TailEntry[], sampled: boolean) => void): Promise<() => void> {
    return this.startStream('tail', this.tailListeners, listener)
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closedReason !== undefined) listener(this.closedReason)
    else this.closeListeners.push(listener)
  }

  close(): Promise<void> {
    if (this.closedReason === undefined) {
      this.channels.closeProducers('the endpoint closed')
      this.hubAcks.flush()
      this.link.send({ t: 'bye' })
      this.link.close()
    }
    return Promise.resolve()
  }

  private startStream<L>(name: InspectorStreamName, listeners: Set<L>, listener: L): Promise<() => void> {
    listeners.add(listener)
    const stop = () => {
      if (listeners.delete(listener) && listeners.size === 0) {
        this.streamsAsked.delete(name)
        if (this.isOpen) void this.askHub({ t: 'stream', name, on: false }).catch(() => {})
      }
    }
    // One ask a stream while it has listeners: those that come while it is pending share its answer,
    // so a refusal reaches each of them (and the next listener asks again).
    let asked = this.streamsAsked.get(name)
    if (asked === undefined) {
      const asking = this.askHub({ t: 'stream', name, on: true })
      asked = asking
      this.streamsAsked.set(name, asking)
      // Only a pending ask can be refused: no stop, and so no later ask, has come since.
      asking.catch(() => this.streamsAsked.delete(name))
    }
    return asked.then(
      () => stop,
      (error: unknown) => {
        listeners.delete(listener)
        throw error
      },
    )
  }

  /**
   * Sends a request frame with a fresh id (or has `send` queue it); resolves with the hub's answer.
   */
  private askHub(
    frame: DistributiveOmit<Extract<EndpointFrame, { rid: number }>, 'rid'> | ((rid: number) => void),
    onAnswer?: OnAnswer,
    answer?: unknown,
  ): Promise<unknown> {
    if (this.closedReason !== undefined) {
      return Promise.reject(EventBusError.of('Disconnected', { reason: this.closedReason }))
    }
    const rid = this.nextRequestId++
    const request = new Request(onAnswer, answer)
    const promise = new Promise((resolve, reject) => {
      request.resolve = resolve
      request.reject = reject
    })
    this.awaitingHub.add(rid, request)
    // Queueing never throws: a closed link drops the frame, and `ended` rejects every waiting request.
    if (typeof frame === 'function') frame(rid)
    else this.link.send({ ...frame, rid } as EndpointFrame)
    return promise
  }

  /**
   * A frame for the hub that could not leave (see Link): the requests it carries are refused with
   * the reason (each publish of a batch on its own); anything else is reported on the console.
   */
  private unsendable(frame: EndpointFrame, reason: string): void {
    const rid = 'rid' in frame ? frame.rid : 0
    if (rid === 0) return unsendableReport(frame, reason)
    const error = EventBusError.of('MessageRejected', {
      reason: `the '${frame.t}' frame could not be sent to the hub: ${reason}`,
      issues: [],
    })
    const count = messagesIn(frame)
    for (let index = 0; index < count; index++) this.awaitingHub.take(rid + index)?.reject(error)
  }

  private receive(frame: HubFrame, ports: readonly unknown[]): void {
    switch (frame.t) {
      case 'welcome':
        this.module = frame.module
        this.permissions = frame.permissions
        this.subscriptions.configure(frame.workers, frame.slowMs)
        this.link.startHeartbeat(frame.heartbeatMs)
        this.welcomed?.resolve(undefined)
        this.welcomed = undefined
        return
      case 'res':
        return this.awaitingHub.take(frame.rid)?.answered(frame.ok)
      case 'okr':
        for (let rid = frame.from; rid <= frame.to; rid++) {
          this.awaitingHub.take(rid)?.answered(undefined)
        }
        return
      case 'rej':
        return this.awaitingHub
          .take(frame.rid)
          ?.reject(EventBusError.fromData(frame.error.data, frame.error.message))
      case 'dlv':
      case 'dlvs':
        return this.subscriptions.deliverFrame(frame, this.hubAcks)
      case 'route':
        return this.channels.open(frame, ports[frame.port])
      case 'rterms':
        return this.channels.producer(frame.id)?.applyTerms(frame.terms)
      case 'rtail':
        return this.channels.producer(frame.id)?.setTailing(frame.on)
      case 'rgo':
        return this.channels.producer(frame.id)?.start()
      case 'unroute':
        // The producer drains and closes the channel; a consumer's side ends with it.
        return this.channels.producer(frame.id)?.withdraw(frame.reason)
      case 'err': {
        // A frame of ours the hub could not accept, or one of its own it could not send us
        // (requests it could answer were rejected instead): fatal before the welcome, said after.
        const error = EventBusError.fromData(frame.error.data, frame.error.message)
        if (this.welcomed !== undefined) this.welcomed.reject(error)
        else console.error(`skelly-bus: the hub reports: ${error.message}`)
        return
      }
      case 'metrics':
        notifyEachOwnCopy(this.metricsListeners, 'metrics', frame.snapshot as BusMetrics)
        return
      case 'tail':
        notifyEachOwnCopy(this.tailListeners, 'tail', frame.entries, frame.sampled)
        return
      case 'bye':
        this.link.close()
        return
      case 'ended':
        this.subscriptions.abandon(frame.sid)
        return
    }
  }

  private ended(reason: string): void {
    this.closedReason = reason
    this.unreadableFromHub.close()
    this.channels.endAll(`the hub link ended: ${reason}`)
    const error = EventBusError.of('Disconnected', { reason })
    this.welcomed?.reject(error)
    this.welcomed = undefined
    for (const request of this.awaitingHub.values()) request.reject(error)
    this.awaitingHub.clear()
    this.streamsAsked.clear() // the streams ended with the connection: a listener now is refused
    this.awaitingReplies.end(error)
    this.subscriptions.endAll()
    notifyAll(this.closeListeners, 'close', reason)
    this.closeListeners = []
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * Connects to the hub over `port` (a Port, or a raw worker_threads / DOM MessagePort) and resolves
 * after the hello/welcome exchange. The client is typed by the built-in catalog and
 * `options.catalog`'s entries, as `createEventBus` is (`X` names them for a client that leaves
 * their validation to the hub and passes none).
 * @throws (rejects) EventBusError `Configuration` for an invalid option or port, or a port given to
 * `connectBus` before, raw or in any `from…` adapter (a port carries one connection, and is closed
 * when it ends), `Unauthorized` when `options.module` differs from the bound identity,
 * `Disconnected` when the hub does not answer in time or the port closes
 */
export function connectBus<X extends Catalog = Record<never, never>>(
  port: PortInput,
  options: ConnectOptions & { catalog?: X } = {},
): Promise<BusClient<BuiltinCatalog & X>> {
  return connect(port, options, false)
}

/**
 * `connectBus` for a window's connection: its API sends again, on the next connection, what a drop
 * left unanswered ({@link publishAgain}), so the hub is asked to remember the ids this connection
 * takes, which it keeps for no other endpoint. The preload's and the browser bridge's, not public.
 */
export function connectWindowBus(port: PortInput, options: ConnectOptions = {}): Promise<BusClient> {
  return connect(port, options, true)
}

/** Every port a connection was made on in this realm: two clients reading one would take each other's answers. */
const connectedPorts = new PortsGiven()

function connect<X extends Catalog>(
  port: PortInput,
  options: ConnectOptions & { catalog?: X },
  resends: boolean,
): Promise<BusClient<BuiltinCatalog & X>> {
  try {
    const checked = checkConnectOptions(options)
    connectedPorts.assertNew(port, 'connectBus', 'connect with a port of its own, from the main process')
    const client = new Client(port, checked.catalog)
    connectedPorts.add(port)
    return client.handshake(checked.options, resends) as unknown as Promise<BusClient<BuiltinCatalog & X>>
  } catch (error) {
    return Promise.reject(error)
  }
}
