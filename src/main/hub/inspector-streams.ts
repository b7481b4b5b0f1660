/**
 * The streams one inspecting endpoint asked for: metrics snapshots as the hub takes them, and the
 * tail of published messages, flushed every {@link TAIL_INTERVAL_MS}. Both come unasked, so both
 * skip an endpoint that reads too slowly rather than pile up in the hub.
 */
import type { Link } from '../../shared/link.js'
import type { Envelope } from '../../shared/message.js'
import type { InspectorStreamName } from '../../shared/metrics-snapshot.js'
import type { Port } from '../../shared/port.js'
import type { EndpointFrame, HubFrame, TailEntry } from '../../shared/wire.js'
import type { MetricsFeed } from './metrics-feed.js'
import type { HubCore } from './types.js'

/** How often the tail stream is flushed. */
export const TAIL_INTERVAL_MS = 250
/** How many entries a flush of the tail carries at most; beyond them it says it sampled. */
export const TAIL_MAX_ENTRIES = 200
/**
 * Bytes an endpoint may leave unread on its port (where the port tells: a WebSocket) before the
 * metrics and tail streams skip it. Deliveries wait for acks and answers for requests, but the
 * streams come unasked: a reader stopped at a breakpoint would have the hub hold all of them.
 */
export const STREAM_BUFFER_LIMIT_BYTES = 1024 * 1024

/** What the streams use of the hub: its metrics feed to watch, and the tap that feeds the tails. */
export type StreamsHub = { readonly metricsFeed: Pick<MetricsFeed, 'watch'> } & Pick<
  HubCore,
  'tails' | 'updateTap'
>
/** What the streams use of an endpoint's link: sending, and asking how much it left unread. */
export type StreamsLink = Pick<Link<EndpointFrame, HubFrame>, 'send'> & {
  readonly port: Pick<Port, 'bufferedBytes'>
}

/** The streams of one session (see above); the hub's route tap calls `tail` while the tail is on. */
export class InspectorStreams {
  /** Stops the metrics stream, while it is on. */
  private stopMetrics: (() => void) | undefined
  private tailTimer: ReturnType<typeof setInterval> | undefined
  private tailBuffer: TailEntry[] = []
  private tailSampled = false
  /** Whether the last tail sent said it sampled: the window shows so until a tail says otherwise. */
  private saidSampled = false

  constructor(
    private readonly hub: StreamsHub,
    private readonly link: StreamsLink,
  ) {}

  /** The streams on now. */
  watching(): InspectorStreamName[] {
    return [
      ...(this.stopMetrics ? (['metrics'] as const) : []),
      ...(this.tailTimer ? (['tail'] as const) : []),
    ]
  }

  /** Turns stream `name` on or off (on again: from now, as if it had just been asked for). */
  set(name: InspectorStreamName, on: boolean): void {
    if (name === 'metrics') {
      this.stopMetrics?.()
      this.stopMetrics = on
        ? this.hub.metricsFeed.watch((snapshot) => {
            // A snapshot skipped is superseded by the next; the window's header shows the spacing.
            if (!this.readsTooSlowly()) this.link.send({ t: 'metrics', snapshot })
          })
        : undefined
      return
    }
    if (this.tailTimer !== undefined) clearInterval(this.tailTimer)
    this.tailTimer = undefined
    if (on) {
      this.hub.tails.add(this)
      this.tailTimer = setInterval(() => this.flushTail(), TAIL_INTERVAL_MS)
    } else {
      this.hub.tails.delete(this)
    }
    this.hub.updateTap()
  }

  /** Turns every stream off: the endpoint has gone. */
  stop(): void {
    this.stopMetrics?.()
    this.stopMetrics = undefined
    if (this.tailTimer !== undefined) clearInterval(this.tailTimer)
    this.tailTimer = undefined
    this.hub.tails.delete(this)
    this.hub.updateTap()
  }

  /** Some messages were left out of the tail before it reached the hub (a direct channel's sample). */
  markTailSampled(): void {
    this.tailSampled = true
  }

  /** Called by the hub's route tap while this tail is on. */
  tail(message: Envelope, routedTo: number): void {
    // Beyond the per-flush budget messages are skipped (and the flush says it sampled), so the
    // tail costs the bus one comparison per message under any load.
    if (this.tailBuffer.length >= TAIL_MAX_ENTRIES) this.tailSampled = true
    else this.tailBuffer.push({ message, routedTo })
  }

  private flushTail(): void {
    // Entries left out are said even when nothing follows them, or the window would show the
    // tail as whole after a burst it could not carry; and an empty tail follows the last that said
    // so once the burst is over, or the window would warn of sampling until the next message.
    if (this.tailBuffer.length === 0 && !this.tailSampled && !this.saidSampled) return
    if (this.readsTooSlowly()) {
      // Left out, as a flood's excess is: the next flush that goes says it sampled.
      this.tailBuffer = []
      this.tailSampled = true
      return
    }
    this.link.send({ t: 'tail', entries: this.tailBuffer, sampled: this.tailSampled })
    this.saidSampled = this.tailSampled
    this.tailBuffer = []
    this.tailSampled = false
  }

  /** Whether the endpoint has left more than the streams' bound unread on its port. */
  private readsTooSlowly(): boolean {
    return (this.link.port.bufferedBytes?.() ?? 0) > STREAM_BUFFER_LIMIT_BYTES
  }
}
