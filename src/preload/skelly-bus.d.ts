/**
 * The bus as renderer code sees it: `window.skellyBus`. The preload (Electron) and the browser
 * bridge (headless host) both provide exactly this object; renderer code imports this type only.
 */
import type {
  Answer,
  BuiltinCatalog,
  BusMessage,
  BusMetrics,
  Catalog,
  DataOf,
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterSelector,
  DeliveryMode,
  EventBusErrorData,
  MetricsPoint,
  PlainFilter,
  PublishOptions,
  ReplayResult,
  RequestOptions,
  RespondOptions,
  SubscribeOptions,
  TailEntry,
  TypeOf,
} from '../shared/index.js'

export type { PublishOptions, RequestOptions, RespondOptions }

/** How a failed call rejects: the EventBusError's kind, fields and message, as a plain object. */
export type SkellyBusError = EventBusErrorData & { message: string }

/**
 * The window's connection to the hub. A lost connection is `reconnecting` until it is `open` again
 * (the bridge retries by itself); `closed` means the hub refused this window and no retry follows.
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/**
 * `window.skellyBus`: the bus as a renderer window sees it, bound to the window's identity. `C` is
 * the catalog its types come from: the built-in one for `window.skellyBus`; a window of an
 * application with types of its own reads it as `SkellyBusApi<BuiltinCatalog & typeof appCatalog>`
 * (the hub validates them, as it does an endpoint's; see the README's *`window.skellyBus`*).
 */
export interface SkellyBusApi<C extends Catalog = BuiltinCatalog> {
  /** This window's identity, bound by the main process. */
  readonly module: string
  /**
   * Builds the envelope (id, timestamp, source = this window) and publishes it; resolves with its
   * id once the hub took it. While the window reconnects it waits for the connection; one that
   * dropped before the hub's answer came is sent again on the next, and the hub takes it once.
   */
  publish<T extends TypeOf<C>>(type: T, data: DataOf<T, C>, options?: PublishOptions): Promise<string>
  /** Publishes a whole message; its source must be this window's identity. */
  publish(message: BusMessage<TypeOf<C>, C>): Promise<string>
  /**
   * Builds the envelope as `publish` does, publishes it, and resolves with the first reply of
   * `options.replyType` whose `correlationId` is its id (as `BusMessage.replyTo` sets it), from
   * `options.from` only when given. The window must be granted to subscribe to the reply type: its
   * first request for the type subscribes it, and that subscription stays (across reconnects too)
   * for the next requests. Rejects at once with `SubscriberUnavailable` when no subscription (of
   * `options.from`, when given) took the request, and with `DeliveryTimeout` when no reply came
   * within `timeoutMs` (default 5000).
   */
  request<T extends TypeOf<C>, R extends TypeOf<C>>(
    type: T,
    data: DataOf<T, C>,
    options: RequestOptions<R> & PublishOptions,
  ): Promise<BusMessage<R, C>>
  /** The same for a whole message; its source must be this window's identity. */
  request<R extends TypeOf<C>>(
    message: BusMessage<TypeOf<C>, C>,
    options: RequestOptions<R>,
  ): Promise<BusMessage<R, C>>
  /**
   * Answers requests, as `respond` does in the main process and in a module: subscribes this window
   * to `requestType` (Reliable unless `options.mode` says otherwise) and publishes what `answer`
   * returns (or resolves with) as each request's reply, of `options.replyType`, from this window. A
   * delivery lasts until the hub has taken the reply, so an `answer` that throws or returns
   * nothing, or a reply the hub refuses, fails the request's delivery (Reliable: retried, then
   * dead-lettered with the reason). The window needs the grants to subscribe to `requestType` and
   * to publish `replyType`; its answering comes back after a reconnect as its subscriptions do.
   * Resolves with an id for `unsubscribe`. Rejects with `Configuration` for invalid options or an
   * answer that is no function, `Unauthorized` for a type the window is not granted.
   */
  respond<Q extends TypeOf<C>, R extends TypeOf<C>>(
    requestType: Q,
    options: RespondOptions<R>,
    answer: Answer<BusMessage<Q, C>, DataOf<R, C>>,
  ): Promise<string>
  /**
   * Subscribes this window; resolves with an id that stays valid across reconnects. `options.label`
   * says what the subscription is for (1 to 80 characters), shown by the inspector. While the window
   * reconnects it waits for the connection; one that dropped before the hub's answer came subscribes
   * again on the next (taking back the Reliable subscription the hub made and parked, if it did).
   */
  subscribe<T extends TypeOf<C>>(
    filter: PlainFilter<T>,
    mode: DeliveryMode,
    handler: (message: BusMessage<T, C>) => unknown,
    options?: SubscribeOptions,
  ): Promise<string>
  /** Ends one of this window's subscriptions at once. */
  unsubscribe(subscriptionId: string): Promise<void>
  /** Connection state changes (the bridge reconnects by itself); returns a function that stops listening. */
  onConnection(listener: (state: ConnectionState) => void): () => void
  /** Requires `inspect`. */
  metrics(): Promise<BusMetrics>
  /** Requires `inspect`: the charted fields of the bus's state each interval for two minutes, oldest first. */
  metricsHistory(): Promise<MetricsPoint[]>
  /**
   * Requires `inspect` (else the listener is let go and the console says why): a snapshot every
   * metrics interval, across reconnects, each listener its own copy. Returns a function that stops it.
   */
  onMetrics(listener: (snapshot: BusMetrics) => void): () => void
  /**
   * Requires `inspect`, as `onMetrics`: published messages in batches, `sampled` when some were
   * skipped, each listener a copy of its own.
   */
  onTail(listener: (entries: TailEntry[], sampled: boolean) => void): () => void
  /** Requires `inspect`. */
  readonly deadLetters: {
    /** The bus's dead letters, oldest first, optionally filtered. */
    list(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>
    /** Enqueues the selected entries again for their subscription (or routes them afresh). */
    replay(selector: DeadLetterSelector | string): Promise<ReplayResult>
    /** Removes the selected entries (all without a selector); resolves with how many. */
    purge(selector?: DeadLetterSelector | string): Promise<number>
  }
}

declare global {
  interface Window {
    skellyBus: SkellyBusApi
  }
}
