/**
 * The endpoint client: the bus's publish / subscribe / unsubscribe / metrics over a port, for
 * renderer windows, utility modules and outside processes. Handlers run here; acks (batched) and
 * nacks travel back, so the hub's accounting, latency and timeouts mean the same as in process.
 * Types, sources and minimum priority are filtered in the hub; predicates run here.
 */

import { Acknowledger, type Delivery } from './acknowledger.js'
import { messagesIn, nacksFor, queuePublish } from './batching.js'
import {
  type BuiltinCatalog,
  builtinCatalog,
  type Catalog,
  claimsOtherSource,
  type TypeOf,
} from './catalog.js'
import type { DeadLetterEntry, DeadLetterFilter, DeadLetterSelector, ReplayResult } from './dead-letter.js'
import type { DeliveryMode } from './delivery-mode.js'
import { DirectConsumer } from './direct-consumer.js'
import { DirectProducer } from './direct-producer.js'
import { describeThrown, EventBusError } from './errors.js'
import { type FilterInput, MessageFilter, type PlainFilter } from './filter.js'
import { InFlight } from './in-flight.js'
import { Link } from './link.js'
import type { BusMessage, Envelope } from './message.js'
import { type MessageValidator, messageValidator } from './message-validator.js'
import type { BusMetrics } from './metrics-snapshot.js'
import { timeoutAfterInput } from './peer-timers.js'
import { type PortInput, toPort } from './port.js'
import { PredicateErrors } from './predicate-errors.js'
import { PriorityFifo } from './priority-fifo.js'
import { checkSubscribeArguments } from './subscribe-arguments.js'
import {
  type DirectLimits,
  type EndpointFrame,
  endpointFrameSchema,
  type Frame,
  type HubFrame,
  hubFrameSchema,
  type Permissions,
  PROTOCOL_VERSION,
  type TailEntry,
} from './wire.js'

export interface ConnectOptions {
  /** The identity this endpoint expects; a different one from the hub rejects with `Unauthorized`. */
  module?: string
  /** How long to wait for the hub's welcome (ms, default 10000). */
  connectTimeoutMs?: number
  /**
   * Extra message types this endpoint publishes or handles over direct channels, which validate
   * messages on the endpoint as the bus does (the built-in types are always known). A routed type
   * missing here keeps going through the hub.
   */
  catalog?: Catalog
}

export type ClientHandler<M> = (message: M) => unknown

/** Dead-letter operations for endpoints granted `inspect`. */
export interface RemoteDeadLetters {
  list(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>
  replay(selector: DeadLetterSelector | string): Promise<ReplayResult>
  purge(selector?: DeadLetterSelector | string): Promise<number>
}

/** The bus, as an endpoint sees it. `C` is the catalog it publishes and handles. */
export interface BusClient<C extends Catalog = BuiltinCatalog> {
  /** The identity the hub bound to this endpoint. */
  readonly module: string
  readonly permissions: Permissions
  readonly isOpen: boolean
  publish(message: BusMessage<TypeOf<C>, C>): Promise<string>
  subscribe<T extends TypeOf<C>>(
    module: string,
    filter: FilterInput<T>,
    mode: DeliveryMode,
    handler: ClientHandler<BusMessage<T, C>>,
  ): Promise<string>
  subscribe(
    module: string,
    filter: FilterInput<string>,
    mode: DeliveryMode,
    handler: ClientHandler<BusMessage<TypeOf<C>, C>>,
  ): Promise<string>
  unsubscribe(subscriptionId: string): Promise<void>
  /** Requires `inspect`. */
  metrics(): Promise<BusMetrics>
  /** Requires `inspect`. */
  readonly deadLetters: RemoteDeadLetters
  /** Requires `inspect`: a metrics snapshot every `metricsIntervalMs`. Returns a function that stops it. */
  onMetrics(listener: (snapshot: BusMetrics) => void): Promise<() => void>
  /** Requires `inspect`: published messages, in batches (`sampled` when some were skipped under load). */
  onTail(listener: (entries: TailEntry[], sampled: boolean) => void): Promise<() => void>
  /** Called once when the connection ends, whoever ended it. */
  onClose(listener: (reason: string) => void): void
  /** Ends the connection on purpose: this endpoint's subscriptions end at once. */
  close(): Promise<void>
}

/** Settles a promise someone waits on. */
interface Settler {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** Runs synchronously when the hub's answer is read, before frames after it in the same unit. */
type OnAnswer = (ok: unknown) => void

/** Reports a frame that could not leave and has no request to refuse (see Link's `unsendable`). */
function unsendableReport(frame: Frame, reason: string): void {
  console.error(`skelly-bus: a '${frame.t}' frame could not be sent and was dropped: ${reason}`)
}

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

interface LocalSubscription {
  readonly handler: ClientHandler<Envelope>
  readonly predicate: ((message: Envelope) => boolean) | undefined
  /**
   * Deliveries past the endpoint's `workers` handlers at once (the hub and a direct channel send a
   * window's worth), highest priority first.
   */
  readonly waiting: PriorityFifo<Delivery>
  /** Deliveries whose handler returned a promise that has not settled yet. */
  readonly running: Set<Delivery>
  readonly reliable: boolean
  /**
   * Set when the bus ended the subscription (its shutdown): what its handlers still run is dead-
   * lettered there, as in process, so their late results are not reported as handled.
   */
  abandoned: boolean
}

/** Direct deliveries to a subscription this endpoint has not heard of yet (its answer is on its way). */
const MAX_EARLY_DELIVERIES = 65_536
/** Unsubscribed subscriptions an endpoint remembers, to end deliveries still on their way to them. */
const MAX_REMEMBERED_UNSUBSCRIBED = 1024

/** Whether every message of a frame has the same priority (whatever the messages are). */
function isOnePriority(messages: readonly unknown[]): boolean {
  const first = (messages[0] as Partial<Envelope> | null | undefined)?.priority
  for (let index = 1; index < messages.length; index++) {
    if ((messages[index] as Partial<Envelope> | null | undefined)?.priority !== first) return false
  }
  return true
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

class Client implements BusClient<Catalog> {
  module = ''
  permissions: Permissions = { publish: [], subscribe: [] }
  readonly deadLetters: RemoteDeadLetters
  private readonly link: Link<HubFrame, EndpointFrame>
  private readonly requests = new InFlight<Request>()
  private nextRequestId = 1
  private readonly subscriptions = new Map<string, LocalSubscription>()
  private workers = 1
  /**
   * Subscriptions unsubscribed here and whether each was Reliable (the latest 1,024): deliveries
   * for them still on their way are withdrawn as the subscription would have ended them.
   */
  private readonly unsubscribed = new Map<string, boolean>()
  /** The bus's slow-handler threshold (ms), from the welcome: handlers running longer are slow. */
  private slowMs = Number.POSITIVE_INFINITY
  /**
   * When the handler about to run may have started (ms): read before a run of deliveries (a frame,
   * a subscribe answer releasing held ones), then as each handler returns or settles, so each
   * handler is timed with one reading, as the bus does in process. `Date.now()`: a threshold in
   * milliseconds needs no finer clock, and reading `performance.now()` per delivery cost a direct
   * route ~12 % more CPU per message in an interleaved A/B, about twice this one's cost.
   */
  private clock = 0
  private readonly hubAcks: Acknowledger
  private readonly predicateErrors: PredicateErrors
  /** Direct channels this endpoint produces on, by message type. */
  private readonly producing = new Map<string, DirectProducer>()
  /** Open direct channels this endpoint produces on (draining ones too), by channel id. */
  private readonly producers = new Map<string, DirectProducer>()
  /** The consumer's side of each direct channel this endpoint receives on, by channel id. */
  private readonly consuming = new Map<string, Link<HubFrame, EndpointFrame>>()
  private validatorCache: MessageValidator | undefined
  private pendingSubscribes = 0
  private early = new Map<string, Delivery[]>()
  private earlyCount = 0
  private metricsListeners = new Set<(snapshot: BusMetrics) => void>()
  private tailListeners = new Set<(entries: TailEntry[], sampled: boolean) => void>()
  private closeListeners: ((reason: string) => void)[] = []
  private closedReason: string | undefined
  private welcomed: Settler | undefined

  constructor(
    port: PortInput,
    private readonly catalog: Catalog = builtinCatalog,
  ) {
    this.link = new Link(toPort(port), hubFrameSchema, {
      frame: (frame, ports) => this.receive(frame, ports),
      invalid: () => {
        // The hub speaks the protocol; an undecodable frame from it is dropped rather than answered.
      },
      unsendable: (frame, reason) => this.unsendable(frame, reason),
      closed: (reason) => this.ended(reason),
    })
    // The hub reads batches as rows beside templates from any endpoint (see message-shapes).
    this.link.shapeBatches()
    this.hubAcks = new Acknowledger(this.link)
    this.predicateErrors = new PredicateErrors(this.link)
    this.deadLetters = {
      list: (filter) =>
        this.request({ t: 'dlq', op: 'list', selector: filter ?? {} }) as Promise<DeadLetterEntry[]>,
      replay: (selector) => this.request({ t: 'dlq', op: 'replay', selector }) as Promise<ReplayResult>,
      purge: (selector) => this.request({ t: 'dlq', op: 'purge', selector }) as Promise<number>,
    }
  }

  get isOpen(): boolean {
    return this.closedReason === undefined
  }

  /** Sends hello and resolves once the hub's welcome arrives. */
  handshake(options: ConnectOptions): Promise<this> {
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
            reject(EventBusError.of('Unauthorized', { module: options.module, action: 'attach' }))
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
      })
    })
  }

  publish(message: Envelope): Promise<string> {
    if (typeof message !== 'object' || message === null) {
      return Promise.reject(
        EventBusError.of('MessageRejected', {
          reason: `publish takes a message (BusMessage.create(...)), not ${message === null ? 'null' : typeof message}`,
          issues: [],
        }),
      )
    }
    try {
      return this.publishMessage(message)
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

  private publishMessage(message: Envelope): Promise<string> {
    const direct = this.producing.get(message.payload?.type)
    if (direct !== undefined) {
      if (claimsOtherSource(message.source, this.module)) {
        return Promise.reject(
          EventBusError.of('Unauthorized', {
            module: this.module,
            action: 'source',
            type: message.payload.type,
          }),
        )
      }
      return direct.publish(message)
    }
    // The hub answers accepted publishes in ranges, without echoing ids: the answer is the id here.
    return this.request(
      (rid) => queuePublish(this.link, rid, message),
      undefined,
      message.id,
    ) as Promise<string>
  }

  subscribe(
    module: string,
    filter: FilterInput<string>,
    mode: DeliveryMode,
    handler: ClientHandler<never>,
  ): Promise<string> {
    if (module !== this.module) {
      return Promise.reject(EventBusError.of('Unauthorized', { module: this.module, action: 'subscribe' }))
    }
    try {
      // Types are left to the hub, whose bus may know types this endpoint's catalog does not.
      checkSubscribeArguments(filter, mode, handler, () => true)
    } catch (error) {
      return Promise.reject(error)
    }
    const isBuilder = filter instanceof MessageFilter
    const plain: PlainFilter = isBuilder ? filter.toPlain() : filter
    const predicate = isBuilder ? (filter.predicate as LocalSubscription['predicate']) : undefined
    // Registered as the answer is read: the hub may send the first deliveries in the same unit.
    this.pendingSubscribes++
    const settled = () => {
      this.pendingSubscribes--
      if (this.pendingSubscribes === 0) this.releaseEarly()
    }
    const answer = this.request({ t: 'sub', module, filter: plain, mode }, (id) => {
      this.subscriptions.set(id as string, {
        handler: handler as ClientHandler<Envelope>,
        predicate,
        waiting: new PriorityFifo(),
        running: new Set(),
        reliable: mode.kind === 'Reliable',
        abandoned: false,
      })
      const early = this.early.get(id as string)
      if (early === undefined) return
      this.early.delete(id as string)
      this.earlyCount -= early.length
      for (const delivery of early) this.admit(delivery)
      this.readClock()
      this.runWaitingOf(id as string)
    }) as Promise<string>
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
    this.dropSubscription(subscriptionId)
    return this.request({ t: 'unsub', sid: subscriptionId }) as Promise<void>
  }

  /**
   * Stops delivery to a subscription at once, as `unsubscribe` does in process: handlers running
   * finish, deliveries waiting never run (each answered `gone`, as are any still on their way).
   */
  private dropSubscription(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) return
    this.subscriptions.delete(subscriptionId)
    this.unsubscribed.set(subscriptionId, subscription.reliable)
    if (this.unsubscribed.size > MAX_REMEMBERED_UNSUBSCRIBED)
      this.unsubscribed.delete(this.unsubscribed.keys().next().value as string)
    const waiting: Delivery[] = []
    subscription.waiting.drain(waiting)
    for (const delivery of waiting) delivery.via.gone(delivery)
  }

  /**
   * The bus ended the subscription (its shutdown), as it ends one in process: nothing more runs,
   * and what its handlers still run is given up now (answered `gone`), their results ignored.
   */
  private abandon(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) return
    this.dropSubscription(subscriptionId)
    subscription.abandoned = true
    for (const delivery of subscription.running)
      delivery.via.gone(delivery, 'Shutdown: the bus ended the subscription', true)
  }

  /**
   * The connection ended: what waits of `subscription` from the hub never runs, since its outcome
   * could no longer be reported and the hub redelivers (or dead-letters) every delivery it sent.
   * Running it would run it twice. A direct channel's deliveries still run: should the hub be gone
   * too, their producer could hand nothing back, and no one else would deliver them.
   */
  private dropHubDeliveries(subscription: LocalSubscription): void {
    const waiting: Delivery[] = []
    subscription.waiting.drain(waiting)
    for (const delivery of waiting)
      if (delivery.via !== this.hubAcks) subscription.waiting.push(delivery, delivery.message.priority)
  }

  metrics(): Promise<BusMetrics> {
    return this.request({ t: 'metrics' }) as Promise<BusMetrics>
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
      for (const producer of [...this.producers.values()]) producer.close('the endpoint closed', true)
      this.hubAcks.flush()
      this.link.send({ t: 'bye' })
      this.link.close()
    }
    return Promise.resolve()
  }

  private startStream<L>(name: 'metrics' | 'tail', listeners: Set<L>, listener: L): Promise<() => void> {
    const first = listeners.size === 0
    listeners.add(listener)
    const stop = () => {
      if (listeners.delete(listener) && listeners.size === 0 && this.isOpen) {
        void this.request({ t: 'stream', name, on: false }).catch(() => {})
      }
    }
    if (!first) return Promise.resolve(stop)
    return this.request({ t: 'stream', name, on: true }).then(
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
  private request(
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
    this.requests.add(rid, request)
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
    for (let index = 0; index < count; index++) this.requests.take(rid + index)?.reject(error)
  }

  private receive(frame: HubFrame, ports: readonly unknown[]): void {
    switch (frame.t) {
      case 'welcome':
        this.module = frame.module
        this.permissions = frame.permissions
        this.workers = frame.workers
        this.slowMs = frame.slowMs ?? Number.POSITIVE_INFINITY
        this.link.startHeartbeat(frame.heartbeatMs)
        this.welcomed?.resolve(undefined)
        this.welcomed = undefined
        return
      case 'res':
        return this.requests.take(frame.rid)?.answered(frame.ok)
      case 'okr':
        for (let rid = frame.from; rid <= frame.to; rid++) {
          this.requests.take(rid)?.answered(undefined)
        }
        return
      case 'rej':
        return this.requests
          .take(frame.rid)
          ?.reject(EventBusError.fromData(frame.error.data, frame.error.message))
      case 'dlv':
      case 'dlvs':
        return this.deliverFrame(frame, this.hubAcks)
      case 'route':
        return this.openChannel(frame, ports[frame.port])
      case 'rterms':
        return this.producers.get(frame.id)?.applyTerms(frame.terms)
      case 'rtail':
        return this.producers.get(frame.id)?.setTailing(frame.on)
      case 'rgo':
        return this.producers.get(frame.id)?.start()
      case 'unroute':
        // The producer drains and closes the channel; a consumer's side ends with it.
        return this.producers.get(frame.id)?.withdraw(frame.reason)
      case 'err': {
        // A frame of ours the hub could not accept, or one of its own it could not send us
        // (requests it could answer were rejected instead): fatal before the welcome, said after.
        const error = EventBusError.fromData(frame.error.data, frame.error.message)
        if (this.welcomed !== undefined) this.welcomed.reject(error)
        else console.error(`skelly-bus: the hub reports: ${error.message}`)
        return
      }
      case 'metrics':
        for (const listener of this.metricsListeners) listener(frame.snapshot as BusMetrics)
        return
      case 'tail':
        for (const listener of this.tailListeners) listener(frame.entries, frame.sampled)
        return
      case 'bye':
        this.link.close()
        return
      case 'ended':
        this.abandon(frame.sid)
        return
    }
  }

  /** Hands each delivery of a `dlv` or `dlvs` frame to its subscription; acks go back `via`. */
  private deliverFrame(frame: Extract<HubFrame, { t: 'dlv' | 'dlvs' }>, via: Acknowledger): void {
    const { sid, timeoutMs } = frame
    const messages = frame.t === 'dlv' ? [frame.msg] : frame.msgs
    const again = frame.t === 'dlv' && frame.again === true
    // A frame's deliveries run highest priority first, as in the bus (the hub sends in priority
    // order, a direct channel in publish order). All of one priority, arrival order is that order:
    // each runs as it comes while a handler slot is free, and is settled before the next arrives.
    const oneByOne = isOnePriority(messages)
    this.readClock()
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Envelope
      const problem = via.screen(message)
      if (problem !== undefined) {
        via.nack(frame.id + i, problem, false)
        continue
      }
      const delivery: Delivery = { id: frame.id + i, subscriptionId: sid, message, timeoutMs, again, via }
      via.arrived(delivery)
      this.admit(delivery)
      if (oneByOne) this.runWaitingOf(sid)
    }
    if (!oneByOne) this.runWaitingOf(sid)
  }

  /** Puts `delivery` in line at its subscription (or holds it for one not answered yet, or settles it). */
  private admit(delivery: Delivery): void {
    const { subscriptionId } = delivery
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription === undefined) {
      // A direct channel can outrun the hub's answer to a subscribe: hold it until the answer.
      if (
        delivery.via !== this.hubAcks &&
        this.pendingSubscribes > 0 &&
        this.earlyCount < MAX_EARLY_DELIVERIES
      ) {
        const held = this.early.get(subscriptionId) ?? []
        held.push(delivery)
        this.early.set(subscriptionId, held)
        this.earlyCount++
        return
      }
      // Unsubscribed while this was on its way: nothing here will handle it.
      delivery.via.gone(delivery)
      return
    }
    subscription.waiting.push(delivery, delivery.message.priority)
  }

  private runWaitingOf(subscriptionId: string): void {
    const subscription = this.subscriptions.get(subscriptionId)
    if (subscription !== undefined) this.runWaiting(subscription)
  }

  /**
   * Runs waiting deliveries while a handler slot is free. A handler that settles at once frees its
   * slot again, so one freed slot may run many: taking only one would leave the rest waiting for
   * the next slow handler to finish, for good if none comes.
   */
  private runWaiting(subscription: LocalSubscription): void {
    while (subscription.running.size < this.workers) {
      const next = subscription.waiting.shift()
      if (next === undefined) return
      this.run(subscription, next)
    }
  }

  /**
   * Runs the subscription's predicate, if any, as the bus does: only `true` is a match, and one
   * that throws is no match, counted (the hub is told).
   */
  private accepts({ predicate }: LocalSubscription, delivery: Delivery): boolean {
    if (predicate === undefined) return true
    try {
      return predicate(delivery.message) === true
    } catch {
      this.predicateErrors.count(delivery.subscriptionId)
      return false
    }
  }

  private run(subscription: LocalSubscription, delivery: Delivery): void {
    if (!this.accepts(subscription, delivery)) {
      // A message the predicate declines is acknowledged: it was delivered to this endpoint.
      delivery.via.handled(delivery)
      return
    }
    let result: unknown
    let thenable: boolean
    // Timed here, where the handler runs, as the bus times it: not from when the delivery arrived.
    const startedAt = this.clock
    try {
      result = subscription.handler(delivery.message)
      thenable = isThenable(result) // may run a `then` getter, which may throw
    } catch (error) {
      delivery.via.failed(delivery, error, false, subscription.reliable, this.ranSlow(startedAt))
      return
    }
    if (!thenable) {
      delivery.via.handled(delivery, this.ranSlow(startedAt))
      return
    }
    this.readClock()
    subscription.running.add(delivery)
    let settled = false
    const finish = (error: unknown, timedOut: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      subscription.running.delete(delivery)
      if (subscription.abandoned) return // answered `gone` when the bus ended the subscription
      if (error === undefined) delivery.via.handled(delivery, this.ranSlow(startedAt))
      else delivery.via.failed(delivery, error, timedOut, subscription.reliable, this.ranSlow(startedAt))
      this.runWaiting(subscription)
    }
    const timer = setTimeout(
      () => finish(EventBusError.of('DeliveryTimeout', { elapsedMs: delivery.timeoutMs }), true),
      delivery.timeoutMs,
    )
    try {
      ;(result as PromiseLike<unknown>).then(
        () => finish(undefined, false),
        (error: unknown) => finish(error ?? new Error('rejected without a reason'), false),
      )
    } catch (error) {
      finish(error, false) // a broken thenable: a failed attempt, as in the bus
    }
  }

  /**
   * Whether a handler started at `startedAt` has run past the bus's slow-handler threshold, now
   * that it returned or settled (the clock read then is when the next handler starts).
   */
  private ranSlow(startedAt: number): boolean {
    return this.readClock() - startedAt > this.slowMs
  }

  private readClock(): number {
    this.clock = Date.now()
    return this.clock
  }

  /** Direct deliveries held for a subscribe answer that never named their subscription. */
  private releaseEarly(): void {
    for (const deliveries of this.early.values())
      for (const delivery of deliveries) delivery.via.handled(delivery)
    this.early = new Map()
    this.earlyCount = 0
  }

  private validator(limits: DirectLimits): MessageValidator {
    this.validatorCache ??= messageValidator(this.catalog, limits.maxMessageBytes)
    return this.validatorCache
  }

  /** Opens our side of a direct channel the hub set up. */
  private openChannel(frame: Extract<HubFrame, { t: 'route' }>, received: unknown): void {
    if (received === undefined || frame.limits === undefined) return
    const port = this.link.adopt(received)
    const validator = this.validator(frame.limits)
    if (frame.role === 'producer') {
      if (frame.terms === undefined) return
      const types = new Set(frame.types.filter(validator.knows))
      const link = new Link<EndpointFrame, HubFrame>(port, endpointFrameSchema, {
        frame: (inbound) => producer.receive(inbound),
        invalid: () => {},
        // A delivery that cannot leave fails as the consumer would fail it; nothing else is sent.
        unsendable: (outbound, reason) => {
          if (outbound.t !== 'dlv' && outbound.t !== 'dlvs') return unsendableReport(outbound, reason)
          for (const nack of nacksFor(outbound, `the delivery could not be sent: ${reason}`))
            producer.receive(nack)
        },
        closed: (reason) => producer.close(`the direct channel closed: ${reason}`, true),
      })
      const producer = new DirectProducer(frame.id, link, frame.terms, frame.limits, validator, {
        toHub: (outbound) => this.link.send(outbound),
        publishCopy: (message, via, seq) =>
          this.request({ t: 'pub', msg: message, via, seq }, undefined, message.id) as Promise<string>,
        ended: (ended) => {
          for (const [type, current] of this.producing) if (current === ended) this.producing.delete(type)
          if (!ended.isOpen) this.producers.delete(ended.id)
        },
      })
      for (const type of types) this.producing.set(type, producer)
      this.producers.set(frame.id, producer)
      return
    }
    const link = new Link<HubFrame, EndpointFrame>(port, hubFrameSchema, {
      frame: (inbound) => {
        if (inbound.t !== 'dlv' && inbound.t !== 'dlvs') return
        this.deliverFrame(inbound, consumer)
      },
      invalid: () => {},
      unsendable: unsendableReport,
      closed: () => {
        this.consuming.delete(frame.id)
        consumer.close()
      },
    })
    const consumer = new DirectConsumer(
      frame.id,
      link,
      frame.peer,
      new Set(frame.types),
      validator,
      (outbound) => this.link.send(outbound),
      (sid) => (this.subscriptions.get(sid)?.reliable ?? this.unsubscribed.get(sid)) === true,
    )
    this.consuming.set(frame.id, link)
  }

  private ended(reason: string): void {
    this.closedReason = reason
    for (const producer of new Set(this.producing.values()))
      producer.close(`the hub link ended: ${reason}`, false)
    for (const link of this.consuming.values()) link.close()
    const error = EventBusError.of('Disconnected', { reason })
    this.welcomed?.reject(error)
    this.welcomed = undefined
    for (const request of this.requests.values()) request.reject(error)
    this.requests.clear()
    for (const subscription of this.subscriptions.values()) this.dropHubDeliveries(subscription)
    this.subscriptions.clear()
    for (const listener of this.closeListeners) listener(reason)
    this.closeListeners = []
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * Connects to the hub over `port` (a Port, or a raw worker_threads / DOM MessagePort) and resolves
 * after the hello/welcome exchange.
 * @throws (rejects) EventBusError `Unauthorized` when `options.module` differs from the bound identity,
 * `Disconnected` when the hub does not answer in time or the port closes
 */
export function connectBus<C extends Catalog = BuiltinCatalog>(
  port: PortInput,
  options: ConnectOptions = {},
): Promise<BusClient<C>> {
  try {
    const catalog = options.catalog === undefined ? builtinCatalog : { ...builtinCatalog, ...options.catalog }
    return new Client(port, catalog).handshake(options) as unknown as Promise<BusClient<C>>
  } catch (error) {
    return Promise.reject(error)
  }
}
