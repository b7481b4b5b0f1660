/**
 * The direct channels an endpoint holds: the port pairs the hub set up for its routes, as their
 * producer (publishes of the routed types go there instead of to the hub) or their consumer
 * (deliveries from there run as the hub's do).
 */
import type { Acknowledger } from './acknowledger.js'
import { nacksFor } from './batching.js'
import type { Catalog } from './catalog.js'
import { DirectConsumer } from './direct-consumer.js'
import { DirectProducer, type DirectProducerHost } from './direct-producer.js'
import { Link } from './link.js'
import { type MessageValidator, messageValidator } from './message-validator.js'
import type { Port } from './port.js'
import { UnreadableFrames } from './unreadable-frames.js'
import {
  type DirectLimits,
  type DirectTerms,
  type EndpointFrame,
  endpointFrameSchema,
  type Frame,
  type HubFrame,
  hubFrameSchema,
  MAX_REASON_LENGTH,
} from './wire.js'

type RouteFrame = Extract<HubFrame, { t: 'route' }>

/** Reports a frame that could not leave and has no request to refuse (see Link's `unsendable`). */
export function unsendableReport(frame: Frame, reason: string): void {
  console.error(`skelly-bus: a '${frame.t}' frame could not be sent and was dropped: ${reason}`)
}

/** What the endpoint gives its direct channels. */
export interface ChannelHost extends Pick<DirectProducerHost, 'toHub' | 'publishCopy' | 'requestCopy'> {
  /** Takes a port the hub sent onto the endpoint's transport (which must carry ports). */
  adopt(received: unknown): Port
  /** Runs a consumer channel's deliveries as the endpoint runs the hub's; acks go back `via`. */
  deliver(frame: Extract<HubFrame, { t: 'dlv' | 'dlvs' }>, via: Acknowledger): void
  /** Whether this endpoint's subscription `sid` is Reliable (false if it is unknown here). */
  isReliable(sid: string): boolean
}

export class DirectChannels {
  /** Direct channels this endpoint produces on, by message type. */
  private readonly producing = new Map<string, DirectProducer>()
  /** Open direct channels this endpoint produces on (draining ones too), by channel id. */
  private readonly producers = new Map<string, DirectProducer>()
  /** The consumer's side of each direct channel this endpoint receives on, by channel id. */
  private readonly consuming = new Map<string, Link<HubFrame, EndpointFrame>>()
  private validatorCache: MessageValidator | undefined

  constructor(
    private readonly host: ChannelHost,
    private readonly catalog: Catalog,
  ) {}

  /** The channel that carries this endpoint's publishes of `type`, if one does. */
  producingFor(type: string): DirectProducer | undefined {
    return this.producing.get(type)
  }

  /** The channel `id` this endpoint produces on, for the hub's frames about it. */
  producer(id: string): DirectProducer | undefined {
    return this.producers.get(id)
  }

  /**
   * Opens our side of a direct channel the hub set up (`received` is its port). A frame that lacks
   * its port, its limits or (to a producer) its terms, which the hub always sends, is from a hub of
   * another version: said in the console, and its port closed, so the hub falls back at once.
   */
  open(frame: RouteFrame, received: unknown): void {
    const { limits, terms } = frame
    if (received !== undefined && limits !== undefined) {
      if (frame.role === 'consumer') return this.openConsumer(frame, this.host.adopt(received), limits)
      if (terms !== undefined) return this.openProducer(frame, this.host.adopt(received), limits, terms)
    }
    if (received !== undefined) this.host.adopt(received).close()
    const lacking = received === undefined ? 'port' : limits === undefined ? 'limits' : 'terms'
    console.error(
      `skelly-bus: the hub's route frame for channel ${frame.id} came without its ${lacking}; the channel stays closed (is the hub of another version?)`,
    )
  }

  private openProducer(frame: RouteFrame, port: Port, limits: DirectLimits, terms: DirectTerms): void {
    const validator = this.validator(limits)
    const unreadable = this.unreadableOn(frame.id)
    const types = new Set(frame.types.filter(validator.knows))
    const link = new Link<EndpointFrame, HubFrame>(port, endpointFrameSchema, {
      frame: (inbound) => producer.receive(inbound),
      invalid: (reason) => unreadable.add(reason),
      // A delivery that cannot leave fails as the consumer would fail it; nothing else is sent.
      unsendable: (outbound, reason) => {
        if (outbound.t !== 'dlv' && outbound.t !== 'dlvs') return unsendableReport(outbound, reason)
        for (const nack of nacksFor(outbound, `the delivery could not be sent: ${reason}`))
          producer.receive(nack)
      },
      closed: (reason) => {
        unreadable.close()
        producer.close(`the direct channel closed: ${reason}`, true)
      },
    })
    // Deliveries leave as rows beside templates (see message-shapes), which every consumer reads:
    // the route's CPU a message fell by 8-26 % in paired runs against tuples (docs/performance.md).
    link.shapeBatches()
    const producer = new DirectProducer(frame.id, frame.peer, link, terms, limits, validator, {
      toHub: (outbound) => this.host.toHub(outbound),
      publishCopy: (message, via, seq) => this.host.publishCopy(message, via, seq),
      requestCopy: (message, via, seq, count) => this.host.requestCopy(message, via, seq, count),
      ended: (ended) => {
        for (const [type, current] of this.producing) if (current === ended) this.producing.delete(type)
        if (!ended.isOpen) this.producers.delete(ended.id)
      },
    })
    for (const type of types) this.producing.set(type, producer)
    this.producers.set(frame.id, producer)
  }

  private openConsumer(frame: RouteFrame, port: Port, limits: DirectLimits): void {
    const unreadable = this.unreadableOn(frame.id)
    const link = new Link<HubFrame, EndpointFrame>(port, hubFrameSchema, {
      frame: (inbound) => {
        if (inbound.t !== 'dlv' && inbound.t !== 'dlvs') return
        this.host.deliver(inbound, consumer)
      },
      invalid: (reason) => unreadable.add(reason),
      unsendable: unsendableReport,
      closed: () => {
        unreadable.close()
        this.consuming.delete(frame.id)
        consumer.close()
      },
    })
    const consumer = new DirectConsumer(
      frame.id,
      link,
      frame.peer,
      new Set(frame.types),
      this.validator(limits),
      (outbound) => this.host.toHub(outbound),
      (sid) => this.host.isReliable(sid),
      limits.window,
    )
    this.consuming.set(frame.id, link)
  }

  /**
   * The endpoint closes on purpose: each channel it produces on hands back what it holds while the
   * hub is still there to take it.
   */
  closeProducers(reason: string): void {
    for (const producer of [...this.producers.values()]) producer.close(reason, true)
  }

  /**
   * The hub link ended: every channel closes, for good, one draining after its withdrawal too (what
   * its drain would hand back has no hub to go to, and its consumer learns at once).
   */
  endAll(reason: string): void {
    for (const producer of [...this.producers.values()]) producer.close(reason, false)
    for (const link of this.consuming.values()) link.close()
  }

  /**
   * What tells the hub of frames on channel `id` that could not be read: the hub counts them
   * against the other end and tells it (a peer's bug or a mismatched version, never to pass unseen).
   */
  private unreadableOn(id: string): UnreadableFrames {
    return new UnreadableFrames((count, reason) =>
      this.host.toHub({ t: 'rbad', id, count, reason: reason.slice(0, MAX_REASON_LENGTH) }),
    )
  }

  private validator(limits: DirectLimits): MessageValidator {
    this.validatorCache ??= messageValidator(this.catalog, limits.maxMessageBytes)
    return this.validatorCache
  }
}
