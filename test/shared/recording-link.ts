/**
 * A real link over a port that only records what is sent through it: for testing what a part of
 * an endpoint or the hub sends, frame by frame, without a peer.
 */
import type { z } from 'zod'
import { codecFor } from '../../src/shared/codec.js'
import { Link } from '../../src/shared/link.js'
import type { Port, PortCarrier } from '../../src/shared/port.js'
import {
  type EndpointFrame,
  endpointFrameSchema,
  type Frame,
  type HubFrame,
  hubFrameSchema,
} from '../../src/shared/wire.js'

/**
 * A port that records the units sent through it (with ports or without) and whether it was closed,
 * and through which a test plays the peer: `arrive` hands the link a unit, `closeFromPeer` ends it.
 */
function recordingPort(carrier: PortCarrier) {
  const units: unknown[] = []
  const state = { closed: false }
  let deliver: (unit: unknown, ports: readonly unknown[]) => void = () => {}
  let closed: (reason?: string) => void = () => {}
  const port: Port = {
    carrier,
    send: (unit) => units.push(unit),
    transfer: (unit) => units.push(unit),
    onMessage: (listener) => {
      deliver = listener
    },
    onClose: (listener) => {
      closed = listener
    },
    start: () => {},
    close: () => {
      state.closed = true
    },
  }
  return {
    port,
    units,
    /** Whether the link closed its port. */
    isClosed: () => state.closed,
    arrive: (unit: unknown) => deliver(unit, []),
    closeFromPeer: (reason: string) => closed(reason),
  }
}

/**
 * A link over a recording port reading `inbound` frames: `sent()` decodes each unit the port took
 * so far into its frames (one list per unit), `received` and `invalid` collect what the link handed
 * on of what arrived, and `endedBecause()` is the reason the link ended, once it has.
 */
function recordingLinkReading<In extends Frame, Out extends Frame>(
  carrier: PortCarrier,
  inbound: z.ZodType<In>,
  onFrame: (frame: In) => void,
) {
  const peer = recordingPort(carrier)
  let endedBecause: string | undefined
  const received: In[] = []
  const invalid: string[] = []
  const link = new Link<In, Out>(peer.port, inbound, {
    frame: (frame) => {
      received.push(frame)
      onFrame(frame)
    },
    invalid: (reason) => invalid.push(reason),
    unsendable: () => {},
    closed: (reason) => {
      endedBecause = reason
    },
  })
  const codec = codecFor(carrier)
  const sent = () => peer.units.map((unit) => codec.decode(unit) as Out[])
  return { peer, link, sent, received, invalid, endedBecause: () => endedBecause }
}

/**
 * An endpoint's link over a recording port (see {@link recordingLinkReading}); `onFrame` runs on
 * each frame handed on, after it is recorded.
 */
export function recordingLink(carrier: PortCarrier = 'clone', onFrame: (frame: HubFrame) => void = () => {}) {
  return recordingLinkReading<HubFrame, EndpointFrame>(carrier, hubFrameSchema, onFrame)
}

/** The hub's link to an endpoint over a recording port (see {@link recordingLinkReading}). */
export function recordingHubLink(carrier: PortCarrier = 'clone') {
  return recordingLinkReading<EndpointFrame, HubFrame>(carrier, endpointFrameSchema, () => {})
}
