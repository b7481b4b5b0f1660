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

/** A port that only records the units sent through it. */
function recordingPort(carrier: PortCarrier): Port & { units: unknown[] } {
  const units: unknown[] = []
  return {
    carrier,
    units,
    send: (unit) => units.push(unit),
    onMessage: () => {},
    onClose: () => {},
    start: () => {},
    close: () => {},
  }
}

/**
 * A link over a recording port reading `inbound` frames (and ignoring them); `sent()` decodes each
 * unit the port took so far into its frames (one list per unit).
 */
function recordingLinkReading<In extends Frame, Out extends Frame>(
  carrier: PortCarrier,
  inbound: z.ZodType<In>,
) {
  const port = recordingPort(carrier)
  const link = new Link<In, Out>(port, inbound, {
    frame: () => {},
    invalid: () => {},
    unsendable: () => {},
    closed: () => {},
  })
  const codec = codecFor(carrier)
  const sent = () => port.units.map((unit) => codec.decode(unit) as Out[])
  return { port, link, sent }
}

/** An endpoint's link over a recording port (see {@link recordingLinkReading}). */
export function recordingLink(carrier: PortCarrier = 'clone') {
  return recordingLinkReading<HubFrame, EndpointFrame>(carrier, hubFrameSchema)
}

/** The hub's link to an endpoint over a recording port (see {@link recordingLinkReading}). */
export function recordingHubLink(carrier: PortCarrier = 'clone') {
  return recordingLinkReading<EndpointFrame, HubFrame>(carrier, endpointFrameSchema)
}
