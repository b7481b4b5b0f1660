/**
 * One attached endpoint: the hub side of the protocol. It stamps nothing and trusts nothing: every
 * frame is validated, every message's source must be the attached identity, every type must be
 * granted. Deliveries to the endpoint are acknowledged back, so the core's accounting, latency and
 * timeouts hold across the port.
 */

import { FULL_PUBS_FRAME, nacksFor, queueDelivery } from '../../shared/batching.js'
import { claimsOtherSource } from '../../shared/catalog.js'
import { monotonicMs } from '../../shared/clock.js'
import type { DeadLetterSelector } from '../../shared/dead-letter.js'
import { EventBusError } from '../../shared/errors.js'
import type { PlainFilter } from '../../shared/filter.js'
import { InFlight } from '../../shared/in-flight.js'
import { Link } from '../../shared/link.js'
import type { Envelope } from '../../shared/message.js'
import type { ConnectionMetrics, InspectorStreamName } from '../../shared/metrics-snapshot.js'
import { awakeInterval } from '../../shared/peer-timers.js'
import type { Port } from '../../shared/port.js'
import {
  type BatchedPublishCount,
  type EndpointFrame,
  endpointFrameSchema,
  type HubFrame,
  MAX_BATCH,
  mayPublish,
  type Permissions,
  PROTOCOL_VERSION,
  type WireError,
} from '../../shared/wire.js'
import type { DeliveryMode } from '../bus/index.js'
import type { Subscription } from '../bus/subscription.js'
import { InspectorStreams } from './inspector-streams.js'
import { PendingAck, SentByPriority } from './pending-ack.js'
import { assertMayInspect, authorizeFilter } from './permissions.js'
import type { RouteEndpoint } from './route.js'
import { TakenIds } from './taken-ids.js'
import type { HubCore } from './types.js'

/**
 * The requests an invalid frame names, if any: its `rid`, or for a batch `rid` to `rid` + its
 * messages − 1 (at most a batch's worth).
 */
function requestsOf(frame: unknown): { from: number; to: number } | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined
  const { rid, msgs } = frame as { rid?: unknown; msgs?: unknown }
  if (typeof rid !== 'number' || !Number.isSafeInteger(rid) || rid < 0) return undefined
  const count = Array.isArray(msgs) ? Math.min(Math.max(msgs.length, 1), MAX_BATCH) : 1
  return { from: rid, to: Math.min(rid + count - 1, Number.MAX_SAFE_INTEGER) }
}

/** Why a session ended; decides what happens to its subscriptions. */
export type EndReason = 'detached' | 'bye' | 'lost' | 'superseded' | 'hub-closed' | 'protocol'

interface RemoteSubscription {
  readonly subscription: Subscription
  /** Same identity, filter and mode: what a re-attached endpoint must ask for to resume it. */
  readonly key: string
  /** The timeout the endpoint enforces on its handler. */
  readonly handlerTimeoutMs: number
  /** What it was sent, per priority: how late an ack may come (see PendingAck). */
  readonly sent: SentByPriority
}

/** How often the hub looks for overdue acks (one timer per session, not per delivery). */
const ACK_SWEEP_MS = 250
/** Error frames answered per second at most, so a flood of bad frames is not amplified. */
const MAX_ERROR_FRAMES_PER_SECOND = 100

/**
 * A `pubs` frame of at least this many messages is answered before the deliveries it caused leave.
 * It is the size at which an endpoint sends a full frame without waiting for the end of its tick.
 * A producer sending that many at once is usually waiting for its answers to send more, and
 * otherwise waits for the bus to deliver and the hub to serialize every copy (two hops: +10–13 %
 * messages/s). Smaller frames come from paced producers, whose messages should reach their
 * subscribers first: waking the producer's thread costs the hub ~30 µs on this 2-core machine, and
 * takes the core the subscriber's thread would run on (two hops at 10 k msg/s: p50 +20–40 µs).
 * Over a socket the answer waits for the rest of the read it came in (see Link.flushAfterInput).
 */
export const EARLY_ANSWER_BATCH = FULL_PUBS_FRAME

/**
 * An error as an answer carries it: a bus error as it is, anything else thrown as `MessageRejected`
 * whose reason is its message (so an endpoint always gets an error it can read by kind).
 */
export function wireError(error: unknown): WireError {
  if (error instanceof EventBusError) return { data: error.toData(), message: error.message }
  const message = error instanceof Error ? error.message : String(error)
  return {
    data: { kind: 'MessageRejected', reason: message, issues: [] },
    message: `MessageRejected: ${message}`,
  }
}

/** An Error whose `name: message` reproduces the endpoint's description of its handler's failure. */
function remoteFailure(description: string): Error {
  const separator = description.indexOf(': ')
  const error = new Error(separator > 0 ? description.slice(separator + 2) : description)
  if (separator > 0) error.name = description.slice(0, separator)
  return error
}

export function subscriptionKey(module: string, filter: PlainFilter, mode: DeliveryMode): string {
  const types = filter.types && [...filter.types].sort()
  const sources = filter.sources && [...filter.sources].sort()
  return JSON.stringify([module, types ?? null, sources ?? null, filter.minPriority ?? null, mode])
}

export class Session implements RouteEndpoint {
  private readonly link: Link<EndpointFrame, HubFrame>
  private greeted = false
  /** The endpoint reads `dlvs` frames (see batching). */
  private batched = false
  /** The endpoint times its handlers and says which ran slow (hello's `slow`). */
  private timesHandlers = false
  private ended = false
  /**
   * The ids of the last publishes this connection took, kept by the hub once it ends; only for an
   * endpoint that sends publishes again after a drop (hello's `again`: a window). Every other
   * endpoint's would keep 4,096 ids alive past the young generation for nothing: +1.2 MB of live
   * heap and 3–8 MB of RSS in the hub at 10 k msg/s (docs/performance.md, *Runs FFF and GGG*).
   */
  private takenIds: TakenIds | undefined
  private readonly subscriptions = new Map<string, RemoteSubscription>()
  private readonly awaitingAck = new InFlight<PendingAck>()
  private nextDeliveryId = 1
  private okFrom = -1
  private okTo = -1
  private errorFramesSent = 0
  private errorWindowStart = Number.NEGATIVE_INFINITY
  private readonly stopAckSweep: () => void
  /** The metrics and tail streams this endpoint watches, if it inspects. */
  private readonly streams: InspectorStreams
  private readonly attachedAt = new Date()
  /**
   * Frames refused as malformed, out of order or not this endpoint's to send, and those it sent on
   * a direct channel that the other end could not read.
   */
  private badFrames = 0

  constructor(
    private readonly hub: HubCore,
    port: Port,
    readonly module: string,
    readonly permissions: Permissions,
    private readonly onEnd: (session: Session, reason: EndReason) => void,
  ) {
    this.link = new Link(port, endpointFrameSchema, {
      frame: (frame) => this.receive(frame),
      invalid: (reason, frame) => this.refuseInvalid(reason, frame),
      unsendable: (frame, reason) => this.unsendable(frame, reason),
      closed: () => this.end('lost'),
    })
    this.streams = new InspectorStreams(hub, this.link)
    this.link.startHeartbeat(hub.heartbeatMs)
    // Not right after this thread was away: the acks that came meanwhile may still be unread.
    this.stopAckSweep = awakeInterval(ACK_SWEEP_MS, (now, away) => {
      if (!away) this.sweepOverdueAcks(now)
    })
  }

  /** What this connection took, when it remembers it (see `takenIds`). */
  get taken(): TakenIds | undefined {
    return this.takenIds
  }

  get isOpen(): boolean {
    return !this.ended
  }

  get canRoute(): boolean {
    return this.greeted && !this.ended && this.link.canTransfer
  }

  /** This endpoint as an inspector's snapshot lists it. */
  connection(): ConnectionMetrics {
    const { port } = this.link
    const unsentBytes = port.bufferedBytes?.()
    return {
      module: this.module,
      transport: port.carrier === 'text' ? 'websocket' : 'port',
      attachedAt: this.attachedAt,
      greeted: this.greeted,
      subscriptions: this.subscriptions.size,
      awaitingAck: this.awaitingAck.size,
      ...(unsentBytes !== undefined && { unsentBytes }),
      badFrames: this.badFrames,
      watching: this.streams.watching(),
    }
  }

  send(frame: HubFrame): void {
    this.link.send(frame)
  }

  sendWithPort(frame: HubFrame, port: unknown): void {
    this.link.sendWithPorts(frame, [port])
  }

  sentUnreadable(count: number, error: EventBusError): void {
    this.badFrames += count
    this.sendError(error)
  }

  *remoteSubscriptions(): Iterable<{ subscription: Subscription; handlerTimeoutMs: number }> {
    for (const remote of this.subscriptions.values()) yield remote
  }

  /** Ends the session for `reason`, telling the endpoint why when the port is still open. */
  end(reason: EndReason): void {
    if (this.ended) return
    this.ended = true
    this.stopAckSweep()
    this.streams.stop()
    const unacknowledged = this.awaitingAck.values()
    this.awaitingAck.clear()
    const unexpected = reason === 'lost' || reason === 'superseded'
    // A module leaving because it was asked to shut down leaves its Reliable backlog as Shutdown.
    const leftover =
      this.hub.bus.registry.get(this.module)?.status === 'ShuttingDown' ? 'Shutdown' : 'Unsubscribed'
    for (const remote of this.subscriptions.values()) {
      if (unexpected && remote.subscription.mode.kind === 'Reliable')
        this.hub.park(this.module, remote.key, remote.subscription)
      else this.hub.internals.end(remote.subscription, leftover)
    }
    this.subscriptions.clear()
    // Deliveries of subscriptions ended above were abandoned with them; those of subscriptions the
    // endpoint had unsubscribed, still running there, are answered now: no ack will come.
    const gone = EventBusError.of('Disconnected', { reason: `the endpoint ended (${reason})` })
    for (const pending of unacknowledged) pending.nack(gone)
    this.hub.routeTable.detached(this)
    if (this.link.isOpen) {
      this.link.send({ t: 'bye', reason })
      this.link.close()
    }
    this.onEnd(this, reason)
  }

  private receive(frame: EndpointFrame): void {
    if (!this.greeted) {
      if (frame.t !== 'hello') {
        this.refuse(
          EventBusError.of('MessageRejected', {
            reason: `send 'hello' first (got '${frame.t}')`,
            issues: [],
          }),
        )
        return
      }
      this.batched = frame.batch === true
      if (frame.shapes === true) this.link.shapeBatches()
      this.timesHandlers = frame.slow === true
      if (frame.again === true) this.takenIds = new TakenIds()
      this.greet(frame.v)
      return
    }
    switch (frame.t) {
      case 'hello':
        return this.refuse(
          EventBusError.of('MessageRejected', { reason: "'hello' was already received", issues: [] }),
        )
      case 'pubs':
        if (frame.again === true) this.publishAgain(frame.rid, frame.msgs)
        else if (frame.count === undefined)
          for (let i = 0; i < frame.msgs.length; i++) this.publish(frame.rid + i, frame.msgs[i])
        else this.publishWithRequests(frame.rid, frame.msgs, frame.count)
        if (frame.msgs.length >= EARLY_ANSWER_BATCH) this.link.flushAfterInput(this.flushPublishAcks)
        return
      case 'pub':
        if (frame.via !== undefined && frame.to !== undefined)
          return this.handBack(frame.via, frame.to, frame)
        if (frame.count !== undefined)
          return this.publishRequest(frame.rid, frame.msg, frame.count.module, frame.via, frame.seq)
        return this.publish(frame.rid, frame.msg, frame.via, frame.seq)
      case 'sub':
        return this.subscribeRequest(frame)
      case 'unsub':
        return this.respond(frame.rid, () => this.unsubscribe(frame.sid))
      case 'ack': {
        // Slow or not is the endpoint's word where it times its handlers, else the hub's measure.
        const timed = this.timesHandlers
        for (const id of frame.ids) this.awaitingAck.take(id)?.ack(timed ? false : undefined)
        if (frame.slow !== undefined)
          for (const id of frame.slow) this.awaitingAck.take(id)?.ack(timed ? true : undefined)
        return
      }
      case 'perr':
        // A subscription ended meanwhile has nothing left to count them in.
        for (const { sid, count } of frame.counts)
          this.subscriptions.get(sid)?.subscription.countPredicateErrors(count)
        return
      case 'nack': {
        const pending = this.awaitingAck.take(frame.id)
        if (frame.gone === true) return pending?.withdraw(frame.ran === true)
        pending?.nack(
          frame.timedOut
            ? EventBusError.of('DeliveryTimeout', { elapsedMs: pending.handlerTimeoutMs })
            : remoteFailure(frame.error),
          this.timesHandlers ? frame.slow === true : undefined,
        )
        return
      }
      case 'metrics':
        return this.respond(frame.rid, () => {
          assertMayInspect(this.module, this.permissions)
          return this.hub.metrics()
        })
      case 'history':
        return this.respond(frame.rid, () => {
          assertMayInspect(this.module, this.permissions)
          return this.hub.metricsFeed.history()
        })
      case 'dlq':
        return this.respond(frame.rid, () => this.deadLetters(frame.op, frame.selector))
      case 'stream':
        return this.respond(frame.rid, () => this.stream(frame.name, frame.on))
      case 'bye':
        return this.end('bye')
      default:
        try {
          this.hub.routeTable.receive(this, frame)
        } catch (error) {
          this.refuse(error)
        }
    }
  }

  /**
   * A direct channel's delivery handed back by its producer or consumer (see RouteTable.handBack),
   * or given to the hub by its consumer to hold while the producer retries it (RouteTable.hold).
   */
  private handBack(via: string, subscriptionId: string, frame: Extract<EndpointFrame, { t: 'pub' }>): void {
    try {
      if (frame.held) this.hub.routeTable.hold(this, via, subscriptionId, frame.msg, frame.custody === true)
      else
        this.hub.routeTable.handBack(this, via, subscriptionId, frame.msg, frame.unsent === true, frame.prior)
    } catch (error) {
      this.sendError(error)
    }
  }

  /**
   * Answers a subscribe. While a direct channel's producer has not yet confirmed terms that
   * include the new subscription, it is held (parked) and unanswered: once answered, it must get
   * everything published after, over whichever path.
   */
  private subscribeRequest(frame: Extract<EndpointFrame, { t: 'sub' }>): void {
    let id: string
    try {
      id = this.subscribe(frame.module, frame.filter, frame.mode, frame.label, frame.resumes)
    } catch (error) {
      this.link.send({ t: 'rej', rid: frame.rid, error: wireError(error) })
      return
    }
    this.hub.routeTable.refresh()
    const settled = this.hub.routeTable.settled()
    const remote = this.subscriptions.get(id)
    if (settled === undefined || remote === undefined) {
      this.link.send({ t: 'res', rid: frame.rid, ok: id })
      return
    }
    remote.subscription.park()
    void settled.then(() => {
      if (this.ended) return
      this.link.send({ t: 'res', rid: frame.rid, ok: id })
      remote.subscription.resume((message) => this.deliver(remote, message))
    })
  }

  private greet(version: number): void {
    if (version !== PROTOCOL_VERSION) {
      this.sendError(
        EventBusError.of('MessageRejected', {
          reason: `protocol version ${version} is not supported (this hub speaks ${PROTOCOL_VERSION})`,
          issues: [],
        }),
      )
      this.end('protocol')
      return
    }
    this.greeted = true
    this.link.send({
      t: 'welcome',
      v: PROTOCOL_VERSION,
      module: this.module,
      permissions: this.permissions,
      workers: this.hub.bus.config.workers,
      heartbeatMs: this.hub.heartbeatMs,
      slowMs: this.hub.bus.config.slowHandlerThresholdMs,
    })
    this.hub.routeTable.attached(this)
  }

  private publish(rid: number, message: unknown, via?: string, seq?: number): void {
    try {
      const permitted = this.permitted(message)
      this.hub.internals.publish(permitted, this.servedBy(via, seq))
      this.takenIds?.add(permitted.id)
      this.acknowledgePublish(rid)
    } catch (error) {
      this.link.send({ t: 'rej', rid, error: wireError(error) })
    }
  }

  /**
   * Publishes the endpoint sends again after its connection dropped, not knowing whether the hub
   * took them before: those a connection of its module that ended took are answered as taken and
   * not published twice; the others are published.
   */
  private publishAgain(rid: number, messages: unknown[]): void {
    for (let i = 0; i < messages.length; i++) {
      const id = (messages[i] as Partial<Envelope> | null)?.id
      if (typeof id === 'string' && this.hub.tookBefore(this.module, id)) {
        this.takenIds?.add(id)
        this.acknowledgePublish(rid + i)
      } else this.publish(rid + i, messages[i])
    }
  }

  /** A `pubs` frame with requests among its messages (`count`: in order, checked by the frame's schema). */
  private publishWithRequests(rid: number, messages: unknown[], count: BatchedPublishCount[]): void {
    let next = 0
    for (let i = 0; i < messages.length; i++) {
      const mark = count[next]
      if (mark?.at !== i) {
        this.publish(rid + i, messages[i])
        continue
      }
      this.publishRequest(rid + i, messages[i], mark.module)
      next++
    }
  }

  /**
   * A request's publish: answered as any publish when a subscription (of `from` alone) took it,
   * else with `res` 0, so that the requester fails at once rather than wait for a reply none could send.
   * With `via`, the copy of a direct channel's producer for the subscribers the channel does not serve.
   */
  private publishRequest(
    rid: number,
    message: unknown,
    from: string | undefined,
    via?: string,
    seq?: number,
  ): void {
    try {
      const permitted = this.permitted(message)
      const takers = this.hub.internals.publishRequest(permitted, from, this.servedBy(via, seq))
      this.takenIds?.add(permitted.id)
      if (takers > 0) this.acknowledgePublish(rid)
      else this.link.send({ t: 'res', rid, ok: 0 })
    } catch (error) {
      this.link.send({ t: 'rej', rid, error: wireError(error) })
    }
  }

  /**
   * For a direct channel's copy (`via`, under terms `seq`), the subscriptions the channel serves,
   * which the hub's copy must neither reach nor count; none for a plain publish.
   * @throws EventBusError `Unauthorized` when this endpoint is not channel `via`'s producer
   */
  private servedBy(via: string | undefined, seq: number | undefined): ReadonlySet<Subscription> | undefined {
    return via === undefined ? undefined : this.hub.routeTable.skipFor(this, via, seq)
  }

  /**
   * `message`, once its source is this endpoint's identity and its type granted to it.
   * @throws EventBusError `Unauthorized`
   */
  private permitted(message: unknown): Envelope {
    // A message that is no object at all is left to the bus's validation, which names it.
    const { source, payload } = (message ?? {}) as Partial<Envelope>
    const type = (payload as { type?: unknown } | undefined)?.type
    if (claimsOtherSource(source, this.module)) {
      throw EventBusError.of('Unauthorized', {
        module: this.module,
        action: 'source',
        ...(typeof type === 'string' ? { type } : {}),
      })
    }
    if (typeof type === 'string' && !mayPublish(this.permissions, type)) {
      throw EventBusError.of('Unauthorized', { module: this.module, action: 'publish', type })
    }
    return message as Envelope
  }

  /** Successful publishes with consecutive request ids are answered by one range frame. */
  private acknowledgePublish(rid: number): void {
    if (this.okFrom >= 0 && rid === this.okTo + 1) {
      this.okTo = rid
      return
    }
    this.flushPublishAcks()
    this.okFrom = rid
    this.okTo = rid
    queueMicrotask(this.flushPublishAcks)
  }

  private readonly flushPublishAcks = (): void => {
    if (this.okFrom < 0) return
    this.link.send({ t: 'okr', from: this.okFrom, to: this.okTo })
    this.okFrom = -1
    this.okTo = -1
  }

  private subscribe(
    module: string,
    filter: PlainFilter,
    mode: DeliveryMode,
    label?: string,
    resumes?: string,
  ): string {
    if (module !== this.module)
      throw EventBusError.of('Unauthorized', { module: this.module, action: 'subscribe' })
    const { maxSubscriptionsPerAttachment: most } = this.hub
    if (this.subscriptions.size >= most) {
      throw new EventBusError(
        { kind: 'QueueFull', currentSize: this.subscriptions.size, maxSize: most },
        `QueueFull: module '${this.module}' holds ${this.subscriptions.size} subscriptions on this attachment, the most the hub allows (maxSubscriptionsPerAttachment ${most}); unsubscribe one first`,
      )
    }
    const authorized = authorizeFilter(this.module, this.permissions, filter)
    const key = subscriptionKey(this.module, authorized, mode)
    const { deliveryTimeoutMs } = this.hub.bus.config
    const handlerTimeoutMs = Math.min(
      deliveryTimeoutMs,
      (mode.kind === 'Reliable' && mode.timeoutMs) || Infinity,
    )
    const resumed = mode.kind === 'Reliable' ? this.hub.claimParked(this.module, key, resumes) : undefined
    if (resumed !== undefined) {
      const remote = { subscription: resumed, key, handlerTimeoutMs, sent: new SentByPriority() }
      resumed.resume(
        (message) => this.deliver(remote, message),
        () => this.endedByBus(remote),
      )
      this.subscriptions.set(resumed.id, remote)
      return resumed.id
    }
    // The handler runs only after subscribeRemote has returned, so `remote` is set by then.
    const remote: RemoteSubscription = {
      subscription: this.hub.internals.subscribeRemote(
        this.module,
        authorized,
        mode,
        (message) => this.deliver(remote, message),
        // The endpoint times its handler; the hub's own bound is the ack sweep, not a timer each.
        {
          maxInFlight: this.window(mode),
          timeoutMs: Infinity,
          endedByBus: () => this.endedByBus(remote),
          label,
        },
      ),
      key,
      handlerTimeoutMs,
      sent: new SentByPriority(),
    }
    this.subscriptions.set(remote.subscription.id, remote)
    return remote.subscription.id
  }

  /** How many deliveries a subscription in `mode` may have unacknowledged at the endpoint. */
  private window(mode: DeliveryMode): number {
    if (mode.kind === 'BestEffort') return this.hub.bestEffortWindow
    if (mode.kind === 'Reliable') return this.hub.reliableWindow
    return 1 // LatestOnly: the newest pending message must still be replaceable.
  }

  /** The handler of every remote subscription: sends the delivery; the endpoint's ack settles it. */
  private deliver(remote: RemoteSubscription, message: Envelope): PendingAck {
    const id = this.nextDeliveryId++
    // The core counted this delivery in flight before calling this handler.
    const { handlerTimeoutMs, sent } = remote
    const pending = new PendingAck(handlerTimeoutMs, remote.subscription.inFlight - 1, message.priority, sent)
    sent.count(message.priority)
    this.awaitingAck.add(id, pending)
    queueDelivery(this.link, this.batched, remote.subscription.id, id, message, remote.handlerTimeoutMs)
    return pending
  }

  /** Counts as timed out every delivery whose ack is overdue past the grace (a hung endpoint). */
  private sweepOverdueAcks(now: number): void {
    const { workers } = this.hub.bus.config
    for (const [id, pending] of this.awaitingAck.entries()) {
      if (!pending.overdueAt(now, workers)) continue
      this.awaitingAck.take(id)
      pending.nack(EventBusError.of('DeliveryTimeout', { elapsedMs: now - pending.sentAt }))
    }
  }

  /** The bus shut down and ended `remote`: the endpoint stops running what it holds of it. */
  private endedByBus(remote: RemoteSubscription): void {
    const sid = remote.subscription.id
    if (this.subscriptions.get(sid) !== remote) return
    this.subscriptions.delete(sid)
    if (this.link.isOpen) this.link.send({ t: 'ended', sid, reason: 'the bus shut down' })
  }

  private unsubscribe(subscriptionId: string): undefined {
    const remote = this.subscriptions.get(subscriptionId)
    if (remote === undefined) {
      // One this module's dropped connection left parked: asked again on this connection.
      if (this.hub.endParked(this.module, subscriptionId)) return undefined
      throw EventBusError.of('SubscriptionNotFound', { subscriptionId })
    }
    this.subscriptions.delete(subscriptionId)
    // As in process, handlers running at the endpoint finish and count; what it had not started it
    // withdraws (`nack` with `gone`), and what it holds here is dead-lettered or dropped now.
    this.hub.internals.end(remote.subscription, 'Unsubscribed', true)
    return undefined
  }

  private deadLetters(operation: 'list' | 'replay' | 'purge', selector: unknown): unknown {
    assertMayInspect(this.module, this.permissions)
    const deadLetters = this.hub.bus.deadLetters
    switch (operation) {
      case 'list':
        return deadLetters.list(selector as Parameters<typeof deadLetters.list>[0])
      case 'replay':
        return deadLetters.replay(selector as DeadLetterSelector)
      case 'purge':
        return deadLetters.purge(selector as DeadLetterSelector | undefined)
    }
  }

  private stream(name: InspectorStreamName, on: boolean): undefined {
    assertMayInspect(this.module, this.permissions)
    this.streams.set(name, on)
    return undefined
  }

  /**
   * Runs a request and answers it with its result or its error. A synchronous result is answered
   * at once, so it leaves ahead of anything the request set in motion: a subscription's `res`
   * reaches the endpoint before its first delivery does.
   */
  private respond(rid: number, run: () => unknown): void {
    let result: unknown
    try {
      result = run()
    } catch (error) {
      this.link.send({ t: 'rej', rid, error: wireError(error) })
      return
    }
    if (!(result instanceof Promise)) {
      this.link.send({ t: 'res', rid, ok: result })
      return
    }
    result.then(
      (ok) => this.link.send({ t: 'res', rid, ok }),
      (error: unknown) => this.link.send({ t: 'rej', rid, error: wireError(error) }),
    )
  }

  /**
   * A frame for this endpoint that could not leave (see Link): its deliveries fail as a nack would
   * fail them (so a Reliable one is retried, then dead-lettered with this reason), an answer
   * becomes a refusal, anything else is reported in an error frame. Error frames that cannot
   * leave are not reported again.
   */
  private unsendable(frame: HubFrame, reason: string): void {
    const why = `could not be sent to this endpoint: ${reason}`
    if (frame.t === 'dlv' || frame.t === 'dlvs') {
      for (const nack of nacksFor(frame, `the delivery ${why}`)) this.receive(nack)
    } else if (frame.t === 'res') {
      const error = EventBusError.of('MessageRejected', { reason: `the answer ${why}`, issues: [] })
      this.link.send({ t: 'rej', rid: frame.rid, error: wireError(error) })
    } else if (frame.t !== 'err' && frame.t !== 'rej') {
      this.sendError(
        EventBusError.of('MessageRejected', { reason: `a '${frame.t}' frame ${why}`, issues: [] }),
      )
    }
  }

  /**
   * Answers an invalid frame: each request it names (its `rid`; a batch's `rid`, `rid + 1`, …) is
   * rejected, so whoever waits for an answer gets one; a frame naming none gets an error frame.
   * Rate-limited like error frames, a frame counting once.
   */
  private refuseInvalid(reason: string, frame: unknown): void {
    this.badFrames++
    if (!this.mayAnswerError()) return
    const error = wireError(EventBusError.of('MessageRejected', { reason, issues: [] }))
    const requests = requestsOf(frame)
    if (requests === undefined) this.link.send({ t: 'err', error })
    else for (let rid = requests.from; rid <= requests.to; rid++) this.link.send({ t: 'rej', rid, error })
  }

  /** Refuses a frame the endpoint should not have sent, and counts it against the endpoint. */
  private refuse(error: unknown): void {
    this.badFrames++
    this.sendError(error)
  }

  /** Answers a frame that could not be taken, with no request to answer (rate-limited). */
  private sendError(error: unknown): void {
    if (this.mayAnswerError()) this.link.send({ t: 'err', error: wireError(error) })
  }

  /** Whether another error answer fits this second's budget (a flood of bad frames is not amplified). */
  private mayAnswerError(): boolean {
    const now = monotonicMs()
    if (now - this.errorWindowStart >= 1000) {
      this.errorWindowStart = now
      this.errorFramesSent = 0
    }
    if (this.errorFramesSent >= MAX_ERROR_FRAMES_PER_SECOND) return false
    this.errorFramesSent++
    return true
  }
}
