/**
 * The bus as renderer code sees it: `window.skellyBus`. The preload (Electron) and the browser
 * bridge (headless host) both provide exactly this object; renderer code imports this type only.
 */
import type {
  BusMessage,
  BusMetrics,
  DataOf,
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterSelector,
  DeliveryMode,
  EventBusErrorData,
  MessageType,
  PlainFilter,
  PublishOptions,
  ReplayResult,
  TailEntry,
} from '../shared/index.js'

export type { PublishOptions }

/** How a failed call rejects: the EventBusError's kind, fields and message, as a plain object. */
export type SkellyBusError = EventBusErrorData & { message: string }

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface SkellyBusApi {
  /** This window's identity, bound by the main process. */
  readonly module: string
  /** Builds the envelope (id, timestamp, source = this window) and publishes it. */
  publish<T extends MessageType>(type: T, data: DataOf<T>, options?: PublishOptions): Promise<string>
  /** Publishes a whole message; its source must be this window's identity. */
  publish(message: BusMessage): Promise<string>
  /** Subscribes this window; resolves with an id that stays valid across reconnects. */
  subscribe<T extends MessageType>(
    filter: PlainFilter<T>,
    mode: DeliveryMode,
    handler: (message: BusMessage<T>) => unknown,
  ): Promise<string>
  unsubscribe(subscriptionId: string): Promise<void>
  /** Connection state changes (the bridge reconnects by itself); returns a function that stops listening. */
  onConnection(listener: (state: ConnectionState) => void): () => void
  /** Requires `inspect`. */
  metrics(): Promise<BusMetrics>
  /** Requires `inspect`: a snapshot every metrics interval. Returns a function that stops it. */
  onMetrics(listener: (snapshot: BusMetrics) => void): () => void
  /** Requires `inspect`: published messages in batches, `sampled` when some were skipped. */
  onTail(listener: (entries: TailEntry[], sampled: boolean) => void): () => void
  /** Requires `inspect`. */
  readonly deadLetters: {
    list(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>
    replay(selector: DeadLetterSelector | string): Promise<ReplayResult>
    purge(selector?: DeadLetterSelector | string): Promise<number>
  }
}

declare global {
  interface Window {
    skellyBus: SkellyBusApi
  }
}
