/**
 * One side of a hub connection over a Port: batches outbound frames (everything sent within one
 * tick goes out as a single unit), decodes and validates inbound frames, and keeps a heartbeat so
 * a peer that hangs is noticed even where the transport reports no close.
 */

import type { z } from 'zod'
import { messagesIn, splitBatch } from './batching.js'
import { monotonicMs } from './clock.js'
import { type Codec, codecFor, UndecodableFrame } from './codec.js'
import { compiled } from './compiled-schema.js'
import { describeThrown, issueAt } from './errors.js'
import { awakeInterval } from './peer-timers.js'
import type { Port } from './port.js'
import type { Frame } from './wire.js'

export interface LinkHandlers<In, Out> {
  /** A valid inbound frame, with the ports transferred in its unit (usually none). */
  frame(frame: In, ports: readonly unknown[]): void
  /**
   * An inbound frame that failed decoding or validation; `reason` names the problem, `frame` is what
   * arrived (undefined when it could not be decoded at all).
   */
  invalid(reason: string, frame: unknown): void
  /**
   * An outbound frame that could not leave: a value in it cannot be cloned or encoded for this
   * transport (the port's error is `reason`). Everything else queued with it was sent, in order;
   * a batch was retried message by message first, so `frame` holds only the messages that failed.
   */
  unsendable(frame: Out, reason: string): void
  /** The channel closed (either side) or the heartbeat gave up on the peer. */
  closed(reason: string): void
}

/** Each frame schema is compiled once per process, not once per link. */
const compiledSchemas = new WeakMap<z.ZodType, z.ZodType>()
function compiledFor<T>(schema: z.ZodType<T>): z.ZodType<T> {
  let fast = compiledSchemas.get(schema)
  if (fast === undefined) {
    fast = compiled(schema)
    compiledSchemas.set(schema, fast)
  }
  return fast as z.ZodType<T>
}

/** Missed heartbeats after which the peer is considered gone. */
const HEARTBEAT_TOLERANCE = 3

export class Link<In extends Frame, Out extends Frame> {
  private outbox: Out[] = []
  private flushQueued = false
  /** What runs before the flush queued after the input at hand over a socket (flushAfterInput). */
  private readonly inputFlushPreparations = new Set<() => void>()
  private open = true
  private stopHeartbeat: (() => void) | undefined
  /** When the last unit came from the peer, on the monotonic clock (wall-clock jumps are no silence). */
  private lastInbound = monotonicMs()
  private codec: Codec

  private readonly inbound: z.ZodType<In>

  constructor(
    readonly port: Port,
    inbound: z.ZodType<In>,
    private readonly handlers: LinkHandlers<In, Out>,
  ) {
    this.inbound = compiledFor(inbound)
    this.codec = codecFor(port.carrier)
    port.onMessage((unit, ports) => this.receive(unit, ports))
    port.onClose((reason) => this.end(reason ?? 'the port closed'))
    port.start()
  }

  get isOpen(): boolean {
    return this.open
  }

  /**
   * Queues a frame; all frames queued in this tick leave together at its end, unless a sender
   * flushes first (a full frame of publishes leaves at once, see batching).
   */
  send(frame: Out): void {
    if (!this.open) return
    this.outbox.push(frame)
    if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(this.flush)
    }
  }

  /**
   * From now on, sends batches of messages as rows beside templates of their shapes (see
   * message-shapes and text-shapes), which the peer said it reads. Either form is always read.
   */
  shapeBatches(): void {
    this.codec = codecFor(this.port.carrier, true)
  }

  /** Messages a batched frame may hold on this link (see Codec.maxMessagesPerUnit). */
  get maxBatch(): number {
    return this.codec.maxMessagesPerUnit
  }

  /**
   * Sends what is queued now, in units of at most the codec's messages per unit (every frame counts
   * as one message at least, so that bounds a unit's frames as well, to far fewer than the 65,536
   * the codec reads): a producer that queued a flood in one tick must not exceed what the other
   * side accepts per unit. Runs at the end of the tick by itself; called directly before closing,
   * by an endpoint whose frame of publishes is full, and by the hub to answer a large unit of
   * publishes ahead of the deliveries it caused.
   */
  readonly flush = (): void => {
    this.flushQueued = false
    // A closed link's outbox is empty: ending clears it, and send() queues nothing after.
    if (this.outbox.length === 0) return
    const frames = this.outbox
    this.outbox = []
    const maxMessages = this.codec.maxMessagesPerUnit
    let start = 0
    let messages = 0
    for (let index = 0; index < frames.length; index++) {
      const count = messagesIn(frames[index] as Out)
      if (index > start && messages + count > maxMessages) {
        this.sendUnit(frames.slice(start, index))
        start = index
        messages = 0
      }
      messages += count
    }
    this.sendUnit(start === 0 ? frames : frames.slice(start))
  }

  /**
   * Flushes ahead of the end of the tick, once the input at hand is handled; `prepare` runs first,
   * to queue what answers that input. Over a port each unit arrives alone, so that is at once. Over
   * a socket one read can bring several units, all handled before the tick ends: they get one
   * flush, after the last of them, and each preparation given meanwhile runs once before it (the
   * hub gives one bound function for every unit). Each write is a system call that wakes the peer:
   * the hub answering a WebSocket producer's frames of 64 this way wrote ~2.6× fewer answers and
   * spent ~4.5 % less CPU a message, where waiting for the end of the read over a port was ~3 %
   * slower.
   */
  flushAfterInput(prepare: () => void): void {
    if (this.port.carrier !== 'text') {
      prepare()
      this.flush()
      return
    }
    if (this.inputFlushPreparations.size === 0) queueMicrotask(this.flushInput)
    this.inputFlushPreparations.add(prepare)
  }

  private readonly flushInput = (): void => {
    for (const prepare of this.inputFlushPreparations) prepare()
    this.inputFlushPreparations.clear()
    this.flush()
  }

  private sendUnit(frames: Out[]): void {
    try {
      this.port.send(this.codec.encode(frames))
    } catch {
      // Something in the unit cannot travel (the bus refuses such messages at publish, but an
      // answer or an exotic value may still hold one). Throwing here would lose the whole unit in
      // a microtask nobody catches: instead each frame goes alone, each message of a batch too,
      // and only what fails is handed back to the sender.
      for (const frame of frames) for (const part of splitBatch(frame)) this.sendAlone(part)
    }
  }

  private sendAlone(frame: Out): void {
    try {
      this.port.send(this.codec.encode([frame]))
    } catch (error) {
      this.handlers.unsendable(frame, describeThrown(error))
    }
  }

  /**
   * The frame queued last, while it has not left yet: a sender may still add to a batched frame
   * (`pubs`, `dlvs`) it queued in this tick instead of queueing another.
   */
  lastQueued(): Out | undefined {
    return this.outbox[this.outbox.length - 1]
  }

  /** Whether ports can travel over this link (structured-clone transports). */
  get canTransfer(): boolean {
    return this.port.transfer !== undefined && this.port.adopt !== undefined
  }

  /**
   * Sends `frame` with `ports` transferred in the same unit, after everything queued before it.
   * @throws TypeError when the transport cannot carry ports (check {@link canTransfer})
   */
  sendWithPorts(frame: Out, ports: readonly unknown[]): void {
    if (!this.open) return
    if (this.port.transfer === undefined) throw new TypeError('this transport cannot carry ports')
    this.flush()
    this.port.transfer(this.codec.encode([frame]), ports)
  }

  /** Wraps a port received over this link as a Port of the same transport. */
  adopt(received: unknown): Port {
    if (this.port.adopt === undefined) throw new TypeError('this transport cannot carry ports')
    return this.port.adopt(received)
  }

  /**
   * Pings every `intervalMs` and ends the link when nothing has come from the peer for
   * HEARTBEAT_TOLERANCE intervals, judged only on ticks when this side was not away (see
   * awakeInterval): a main process that stalled, or a laptop waking up, cuts off no healthy peer.
   * 0 turns the heartbeat off.
   */
  startHeartbeat(intervalMs: number): void {
    if (intervalMs <= 0 || this.stopHeartbeat !== undefined) return
    this.stopHeartbeat = awakeInterval(intervalMs, (now, away) => {
      if (!away && now - this.lastInbound > intervalMs * HEARTBEAT_TOLERANCE) {
        this.end(`no heartbeat for ${intervalMs * HEARTBEAT_TOLERANCE} ms`)
        this.port.close()
        return
      }
      this.send({ t: 'ping' } as Out)
    })
  }

  /** Flushes what is queued, then closes the port. */
  close(): void {
    if (!this.open) return
    this.flush()
    this.end('closed by this side')
    this.port.close()
  }

  private receive(unit: unknown, ports: readonly unknown[]): void {
    if (!this.open) return
    this.lastInbound = monotonicMs()
    for (const candidate of this.codec.decode(unit)) {
      if (!this.open) return
      if (candidate instanceof UndecodableFrame) {
        this.handlers.invalid(candidate.reason, undefined)
        continue
      }
      const parsed = this.inbound.safeParse(candidate)
      if (!parsed.success) {
        const kind = (candidate as { t?: unknown } | null)?.t
        this.handlers.invalid(
          `invalid frame${typeof kind === 'string' ? ` '${kind.slice(0, 32)}'` : ''}: ${issueAt(parsed.error, 'frame')}`,
          candidate,
        )
        continue
      }
      if (parsed.data.t === 'ping') this.send({ t: 'pong' } as Out)
      else if (parsed.data.t !== 'pong') this.handlers.frame(parsed.data, ports)
    }
  }

  private end(reason: string): void {
    if (!this.open) return
    this.open = false
    this.outbox = []
    this.stopHeartbeat?.()
    this.handlers.closed(reason)
  }
}
