/**
 * An endpoint's real link over a port that only records what is sent through it: for testing what
 * a part of the endpoint sends, frame by frame, without a peer.
 */
import { codecFor } from '../../src/shared/codec.js'
import { Link } from '../../src/shared/link.js'
import type { Port, PortCarrier } from '../../src/shared/port.js'
import { type EndpointFrame, type HubFrame, hubFrameSchema } from '../../src/shared/wire.js'

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
 * An endpoint's link over a recording port, ignoring what comes in; `sent()` decodes each unit the
 * port took so far into its frames (one list per unit).
 */
export function recordingLink(carrier: PortCarrier = 'clone') {
  const port = recordingPort(carrier)
  const link = new Link<HubFrame, EndpointFrame>(port, hubFrameSchema, {
    frame: () => {},
    invalid: () => {},
    unsendable: () => {},
    closed: () => {},
  })
  const codec = codecFor(carrier)
  const sent = () => port.units.map((unit) => codec.decode(unit) as EndpointFrame[])
  return { port, link, sent }
}
