/**
 * Checks on what a direct channel's ends send the hub about it, made before anything of it counts
 * or is kept: a report taken whole or refused whole, and messages that must be the route
 * producer's own, of the route's types, for a subscription the channel served.
 */
import { EventBusError } from '../../shared/errors.js'
import { slotWidth } from '../../shared/latency-tally.js'
import type { Envelope } from '../../shared/message.js'
import type { DirectReport } from '../../shared/wire.js'
import type { BusInternals } from '../bus/internal.js'
import type { Channel, Route, RouteEndpoint } from './route.js'

/**
 * Checks a producer's report before anything of it is counted, so that a report is taken whole or
 * refused whole: it counts no hand-backs (the hub counts those as they arrive, and a claimed one
 * would take copies off what was routed), no more slow handlers than attempts it counts settled,
 * a latency for each delivery it counts, and its tail samples are the producer's own valid messages of the route's types.
 * @throws EventBusError `MessageRejected` or `Unauthorized` (a tail sample of someone else's)
 */
export function assertWhole(
  route: Route,
  from: RouteEndpoint,
  report: DirectReport,
  internals: BusInternals,
): void {
  const refuse = (reason: string) => EventBusError.of('MessageRejected', { reason, issues: [] })
  for (const { sid, type, handedBack, slowHandlers, delivered, failed } of report.counts) {
    if (handedBack !== 0)
      throw refuse(
        `a producer's report counts no hand-backs (the hub counts them as they arrive): it claims ${handedBack} for subscription ${sid} and ${type}`,
      )
    // Each slow handler is an attempt that settled, counted in the same report.
    if (slowHandlers > delivered + failed)
      throw refuse(
        `a producer's report counts ${slowHandlers} slow handlers for subscription ${sid} and ${type}, more than the ${delivered + failed} attempts it counts settled`,
      )
  }
  assertLatencyOfDelivered(report)
  for (const { msg } of report.tail ?? []) {
    assertProducers(route, from, msg)
    internals.validate(msg)
  }
}

/**
 * Checks a report's latencies: one per delivery it counts (none beyond), whose sum lies within the
 * slots they were tallied in.
 * @throws EventBusError `MessageRejected`
 */
function assertLatencyOfDelivered(report: DirectReport): void {
  const delivered = new Map<string, number>()
  for (const { sid, delivered: count } of report.counts) delivered.set(sid, (delivered.get(sid) ?? 0) + count)
  for (const { sid, us, n, sumUs } of report.latency) {
    let count = 0
    let lowest = 0
    let highest = 0
    for (let i = 0; i < us.length; i++) {
      const micros = us[i] as number
      const times = n[i] as number
      count += times
      lowest += micros * times
      highest += (micros + slotWidth(micros) - 1) * times
    }
    const problem =
      count > (delivered.get(sid) ?? 0)
        ? `${count} latencies for subscription ${sid}, more than the ${delivered.get(sid) ?? 0} deliveries it counts`
        : sumUs < lowest || sumUs > highest
          ? `a latency sum of ${sumUs} µs for subscription ${sid}, outside the ${lowest}–${highest} µs its tally allows`
          : undefined
    if (problem !== undefined)
      throw EventBusError.of('MessageRejected', {
        reason: `a producer's report counts ${problem}`,
        issues: [],
      })
  }
}

/**
 * Channel frames that carry messages (tail samples, a consumer's hand-backs) may carry only the
 * route producer's own messages of the route's types.
 * @throws EventBusError `Unauthorized` naming `from` and what was wrong: the source or the type
 */
export function assertProducers(route: Route, from: RouteEndpoint, message: Envelope): void {
  const type = message.payload?.type
  if (message.source !== route.producer) {
    throw EventBusError.of('Unauthorized', { module: from.module, action: 'source', type })
  }
  if (!route.types.includes(type)) {
    throw EventBusError.of('Unauthorized', { module: from.module, action: 'publish', type })
  }
}

/** @throws EventBusError `Unauthorized` unless `channel` served subscription `sid` */
export function assertServed(channel: Channel, from: RouteEndpoint, sid: string, message: Envelope): void {
  if (channel.served.has(sid)) return
  throw EventBusError.of('Unauthorized', {
    module: from.module,
    action: 'publish',
    type: message.payload?.type,
  })
}

/**
 * A delivery `channel` could have made, sent back by one of its endpoints: for a subscription it
 * served, the producer's own message of a route type, valid as a publish.
 * @throws EventBusError `Unauthorized` or `MessageRejected` naming what is wrong
 */
export function assertDeliveryOf(
  channel: Channel,
  from: RouteEndpoint,
  subscriptionId: string,
  message: Envelope,
  internals: BusInternals,
): void {
  assertServed(channel, from, subscriptionId, message)
  assertProducers(channel.route, from, message)
  internals.validate(message)
}
