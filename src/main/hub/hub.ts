/**
 * The hub: attaches endpoints to the bus. Each attachment is a port plus an identity and
 * permissions chosen by the main process. Reliable subscriptions of an endpoint that went away
 * unexpectedly are parked for a grace period and resume when the same identity comes back.
 */

import { z } from 'zod'
import type { Catalog, TypeOf } from '../../shared/catalog.js'
import { LONGEST_WAIT_MS } from '../../shared/clock.js'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import type { Envelope } from '../../shared/message.js'
import type { BusMetrics } from '../../shared/metrics-snapshot.js'
import { timeoutAfterInput } from '../../shared/peer-timers.js'
import { type PortInput, PortsGiven, toPort } from '../../shared/port.js'
import type { PermissionsOf } from '../../shared/wire.js'
import type { EventBus } from '../bus/index.js'
import { type BusInternals, busInternals, type WithInternals } from '../bus/internal.js'
import type { Subscription } from '../bus/subscription.js'
import type { InspectorStreams } from './inspector-streams.js'
import { MetricsFeed } from './metrics-feed.js'
import { checkAttachArguments, type onDuplicateSchema } from './permissions.js'
import type { DirectRoute, PortPair, RouteSpec, RouteSpecOf } from './route.js'
import { RouteTable } from './routes.js'
import { Session } from './session.js'
import { ENDED_CONNECTIONS_REMEMBERED, type TakenIds } from './taken-ids.js'
import type { HubCore } from './types.js'

const durationMs = (min: number) => z.number().int().min(min).max(LONGEST_WAIT_MS)
const atLeastOne = z.number().int().min(1)

const hubOptionsSchema = z
  .object({
    /** How long Reliable subscriptions of a lost endpoint wait for it to re-attach (ms, default 30000). */
    reconnectGraceMs: durationMs(0).default(30_000),
    /** Ping interval; an endpoint silent for three intervals is considered lost (ms, default 5000, 0 = off). */
    heartbeatMs: durationMs(0).default(5_000),
    /** Deliveries a BestEffort subscription may have unacknowledged at its endpoint (default 256). */
    bestEffortWindow: atLeastOne.default(256),
    /**
     * Deliveries a Reliable subscription may have unacknowledged at its endpoint (default 256). The
     * endpoint still runs at most `workers` handlers at once; the rest wait there (highest priority
     * first, in arrival order within one), so acks need no round trip per `workers` deliveries.
     */
    reliableWindow: atLeastOne.default(256),
    /**
     * Subscriptions one attachment may hold at once (default 1024). An endpoint is not trusted: one
     * subscribing without end would make every matching publish cost the hub a copy per subscription.
     * Past it, `subscribe` rejects with `QueueFull` (recoverable: unsubscribe one first).
     */
    maxSubscriptionsPerAttachment: atLeastOne.default(1024),
    /** Direct routes to set up as their endpoints attach (see {@link Hub.route}, which checks each). */
    routes: z.array(z.custom<RouteSpec>()).optional(),
    /**
     * How long the hub keeps a closed direct channel (ms, default 60000): late reports, hand-backs and
     * dead letters of it are accepted meanwhile, and what it still holds is then requeued. While the
     * channel's producer is gone and its consumer is still settling what it had, up to ten times as long.
     */
    closedChannelMemoryMs: durationMs(1).default(60_000),
    /**
     * Makes the port pair of a direct channel. Default: the runtime's `MessageChannel` (worker_threads
     * in Node, DOM in browsers); the Electron host passes `MessageChannelMain`. Its ports must be of a
     * kind the endpoints' transport can transfer: if it throws, or an endpoint's transport refuses a
     * port, the route stays `waiting` with the reason and its traffic takes the hub path.
     */
    createChannel: z
      .custom<() => PortPair>((value) => typeof value === 'function', 'expected a function')
      .optional(),
  })
  .strict()
/**
 * `createHub`'s options (all optional): the reconnect grace, the heartbeat, the delivery windows,
 * the attachments' limits and how direct channels are made. A misspelt one is refused.
 */
export type HubOptions = z.input<typeof hubOptionsSchema>

/**
 * `createHub`'s options with their defaults. A misspelt one is refused, not ignored: a
 * `heartbeatMS` would otherwise leave the heartbeat at its default without a word.
 * @throws EventBusError `Configuration` naming the option
 */
function parseHubOptions(options: unknown): z.output<typeof hubOptionsSchema> {
  const parsed = hubOptionsSchema.safeParse(options ?? {})
  if (parsed.success) return parsed.data
  throw EventBusError.of('Configuration', { reason: `createHub: ${firstIssue(parsed.error, 'options')}` })
}

/**
 * What the main process grants a port as it attaches it; `T` is the types the bus's catalog has
 * (any string for a hub typed with no particular catalog).
 */
export interface AttachOptions<T extends string = string> {
  /** The identity the endpoint gets; every message it publishes must carry it as `source`. */
  module: string
  /** What the endpoint may publish, subscribe to and inspect; it can do nothing else. */
  permissions: PermissionsOf<T>
  /**
   * When an attachment with the same identity is still open: `'replace'` (default) ends the old one
   * as if its port had closed, so its Reliable subscriptions carry over; `'refuse'` throws
   * `Unauthorized`; `'allow'` keeps both.
   */
  onDuplicate?: z.infer<typeof onDuplicateSchema>
}

/** An attached endpoint, as the main process holds it. */
export interface Attachment {
  /** The identity bound to the endpoint. */
  readonly module: string
  /** What it was granted: the hub's own copy, frozen (the hub checks every frame against it). */
  readonly permissions: PermissionsOf<string>
  /** Whether the attachment is still open. */
  readonly isOpen: boolean
  /** Ends the attachment: its subscriptions end at once and its port is closed. */
  detach(): void
}

/**
 * The cross-process hub (`createHub(bus)`): it attaches endpoints' ports, checks every frame they
 * send against their identity and grants, and carries the bus to them and back.
 */
export interface Hub<C extends Catalog = Catalog> {
  /** The bus's catalog: the message types permissions and routes may name. */
  readonly catalog: Readonly<C>
  /**
   * Attaches a port; the endpoint completes the hello/welcome exchange on it. Permissions naming a
   * type the catalog lacks fail to compile, and throw `Configuration` when they reach here untyped.
   * Each port is attached once: a port attached before (open, or closed when its attachment ended;
   * raw or in any `from…` adapter) throws `Configuration`, and nothing already attached is touched.
   */
  attach(port: PortInput, options: AttachOptions<TypeOf<C>>): Attachment
  /** Open attachments. */
  attachments(): Attachment[]
  /**
   * Declares a direct route: `producer`'s messages of `types` go straight to `consumer`'s matching
   * subscriptions over a port pair of their own, once both are attached (and again after either
   * comes back). Other subscribers still get those messages through the hub. When the bus begins
   * shutting down, every route is revoked.
   * The spec is checked whole (a key it does not have is refused, `mode` is `BestEffort` or
   * `Reliable`); the route keeps its own frozen copy of `types`.
   * @throws EventBusError `Configuration` for an invalid or overlapping spec, `Unauthorized` when an
   * attached side lacks the permission for a type, `BusShuttingDown` once the bus or the hub is
   * shutting down
   */
  route(spec: RouteSpecOf<TypeOf<C>>): DirectRoute
  /** Declared routes with their state. */
  routes(): DirectRoute[]
  /** Detaches every attachment, withdraws every direct route and ends parked subscriptions. */
  close(): void
}

interface Parked {
  readonly key: string
  readonly subscription: Subscription
  /** Stops the grace period's timer. */
  readonly cancel: () => void
}

class HubImpl implements Hub, HubCore {
  readonly internals: BusInternals
  readonly heartbeatMs: number
  readonly bestEffortWindow: number
  readonly reliableWindow: number
  readonly maxSubscriptionsPerAttachment: number
  readonly tails = new Set<InspectorStreams>()
  /** `tails` as an array for the tap, which runs once per published message while anyone watches. */
  private tailing: InspectorStreams[] = []
  /**
   * One function for the hub's life: a new one each time an inspector started watching changed the
   * call target in the bus's routing, which V8 answered by dropping the routing's optimized code
   * (`--trace-deopt`: "wrong call target") to compile it again under load. An array rather than the
   * set: iterating a set made an iterator per message.
   */
  private readonly tap = (message: Envelope, routedTo: number): void => {
    const tailing = this.tailing
    for (let i = 0; i < tailing.length; i++) (tailing[i] as InspectorStreams).tail(message, routedTo)
  }
  readonly routeTable: RouteTable
  readonly metricsFeed: MetricsFeed
  private readonly reconnectGraceMs: number
  /** Open sessions, each with the attachment `attach` returned for it. */
  private readonly sessions = new Map<Session, Attachment>()
  /** Every port `attach` took: two sessions reading one would both welcome it and take each frame. */
  private readonly attachedPorts = new PortsGiven()
  private readonly parked = new Map<string, Parked[]>()
  /** What each module's last ended connections took, newest first (see `tookBefore`). */
  private readonly takenBefore = new Map<string, TakenIds[]>()
  private closed = false

  get catalog(): Readonly<Catalog> {
    return this.bus.catalog
  }

  constructor(
    readonly bus: EventBus,
    options: HubOptions,
  ) {
    // Read with ?.: a JavaScript caller may pass anything, null included, and must hear why it is refused.
    const internals = (bus as unknown as WithInternals | null | undefined)?.[busInternals]
    if (internals === undefined) {
      throw EventBusError.of('Configuration', { reason: 'createHub needs a bus made by createEventBus' })
    }
    this.internals = internals
    const settings = parseHubOptions(options)
    this.reconnectGraceMs = settings.reconnectGraceMs
    this.heartbeatMs = settings.heartbeatMs
    this.bestEffortWindow = settings.bestEffortWindow
    this.reliableWindow = settings.reliableWindow
    this.maxSubscriptionsPerAttachment = settings.maxSubscriptionsPerAttachment
    this.routeTable = new RouteTable(
      bus,
      this.internals,
      settings.createChannel ?? runtimeChannel(),
      () => {
        for (const streams of this.tails) streams.markTailSampled()
      },
      settings.closedChannelMemoryMs,
    )
    for (const spec of settings.routes ?? []) this.routeTable.declare(spec)
    this.metricsFeed = new MetricsFeed(bus, this.internals, { snapshot: () => this.metrics() })
    this.internals.onShutdown(() => this.routeTable.shutDown())
  }

  route(spec: RouteSpec): DirectRoute {
    this.assertOpen('declares no routes')
    return this.routeTable.declare(spec)
  }

  attach(input: PortInput, options: AttachOptions): Attachment {
    this.assertOpen('attaches no endpoints')
    const { module, permissions, onDuplicate } = checkAttachArguments(options, this.catalog)
    this.attachedPorts.assertNew(input, 'attach', `attach '${module}' with a port of its own`)
    const duplicates = [...this.sessions.keys()].filter((session) => session.module === module)
    if (duplicates.length > 0 && onDuplicate === 'refuse') {
      throw new EventBusError(
        { kind: 'Unauthorized', module, action: 'attach' },
        `Unauthorized: '${module}' is attached already, and this attachment refuses a second (onDuplicate: 'refuse'); detach the first, or use 'replace' or 'allow'`,
      )
    }
    // Adapted (which listens on it) only once it is taken, and before anything is superseded: a
    // port it cannot use must leave the attachment it would replace.
    const port = toPort(input)
    if (onDuplicate === 'replace') for (const session of duplicates) session.end('superseded')
    this.attachedPorts.add(input)
    const session = new Session(this, port, module, permissions, (ended) => {
      this.sessions.delete(ended)
      this.rememberTaken(ended)
    })
    const attachment: Attachment = Object.freeze({
      module,
      permissions,
      get isOpen() {
        return session.isOpen
      },
      detach: () => session.end('detached'),
    })
    this.sessions.set(session, attachment)
    return attachment
  }

  routes(): DirectRoute[] {
    return this.routeTable.list()
  }

  /** The bus's snapshot with what only the hub knows: the endpoints attached to it. */
  metrics(): Promise<BusMetrics> {
    return this.bus.metrics().then((snapshot) => ({
      ...snapshot,
      connections: [...this.sessions.keys()].map((session) => session.connection()),
    }))
  }

  attachments(): Attachment[] {
    // The objects attach returned: their isOpen stays live, not a copy of the moment.
    return [...this.sessions.values()]
  }

  /**
   * @throws EventBusError `BusShuttingDown` once the hub is closed, saying so: the bus behind it
   * may well still run.
   */
  private assertOpen(refused: string): void {
    if (!this.closed) return
    throw new EventBusError(
      { kind: 'BusShuttingDown' },
      `BusShuttingDown: this hub is closed and ${refused}; create a new hub with createHub(bus)`,
    )
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.metricsFeed.close()
    this.routeTable.close()
    for (const session of [...this.sessions.keys()]) session.end('hub-closed')
    for (const [, entries] of this.parked) {
      for (const entry of entries) {
        entry.cancel()
        this.internals.end(entry.subscription, 'SubscriberUnavailable')
      }
    }
    this.parked.clear()
  }

  updateTap(): void {
    this.tailing = [...this.tails]
    this.internals.setRouteTap(this.tailing.length === 0 ? undefined : this.tap)
    this.routeTable.setTailing(this.tailing.length > 0)
  }

  park(module: string, key: string, subscription: Subscription): void {
    subscription.park()
    // An endpoint whose new `sub` waits unread as the grace runs out (this thread was away) is
    // back in time: it resumes, and this never fires.
    const cancel = timeoutAfterInput(this.reconnectGraceMs, () => {
      const entries = this.parked.get(module) ?? []
      const remaining = entries.filter((entry) => entry.subscription !== subscription)
      if (remaining.length > 0) this.parked.set(module, remaining)
      else this.parked.delete(module)
      this.internals.end(subscription, 'SubscriberUnavailable')
    })
    this.parked.set(module, [...(this.parked.get(module) ?? []), { key, subscription, cancel }])
  }

  tookBefore(module: string, id: string): boolean {
    return this.takenBefore.get(module)?.some((taken) => taken.has(id)) ?? false
  }

  private rememberTaken(ended: Session): void {
    if (ended.taken === undefined) return
    const kept = [ended.taken, ...(this.takenBefore.get(ended.module) ?? [])]
    this.takenBefore.set(ended.module, kept.slice(0, ENDED_CONNECTIONS_REMEMBERED))
  }

  claimParked(module: string, key: string, subscriptionId?: string): Subscription | undefined {
    return this.takeParked(
      module,
      (entry) =>
        entry.key === key && (subscriptionId === undefined || entry.subscription.id === subscriptionId),
    )
  }

  endParked(module: string, subscriptionId: string): boolean {
    const subscription = this.takeParked(module, (entry) => entry.subscription.id === subscriptionId)
    if (subscription === undefined) return false
    this.internals.end(subscription, 'Unsubscribed')
    return true
  }

  /** Takes `module`'s first parked subscription that `matches` out of the park, its grace ended. */
  private takeParked(module: string, matches: (entry: Parked) => boolean): Subscription | undefined {
    const entries = this.parked.get(module)
    const index = entries?.findIndex(matches) ?? -1
    if (entries === undefined || index < 0) return undefined
    const [entry] = entries.splice(index, 1)
    if (entries.length === 0) this.parked.delete(module)
    if (entry === undefined) return undefined
    entry.cancel()
    return entry.subscription
  }
}

/** The runtime's own MessageChannel, where there is one. */
function runtimeChannel(): (() => PortPair) | undefined {
  const Channel = (globalThis as { MessageChannel?: new () => PortPair }).MessageChannel
  return Channel === undefined ? undefined : () => new Channel()
}

/**
 * Creates a hub for `bus`. Limits such as `maxMessageBytes` and `workers` come from `bus.config`.
 * @throws EventBusError `Configuration` for an invalid option
 */
export function createHub<C extends Catalog>(bus: EventBus<C>, options: HubOptions = {}): Hub<C> {
  // The hub routes messages of any catalog without looking into their types; its catalog is the bus's.
  return new HubImpl(bus as unknown as EventBus, options) as unknown as Hub<C>
}
