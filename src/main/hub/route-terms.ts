/**
 * A direct channel's terms: which of the consumer's subscriptions it serves, and which routed
 * types still go to the hub as well. The hub sends them to the producer and sends them again,
 * numbered, whenever subscriptions change.
 */
import type { DirectTarget, DirectTerms } from '../../shared/wire.js'
import type { BusInternals } from '../bus/internal.js'
import type { Subscription } from '../bus/subscription.js'
import type { Route, RouteEndpoint } from './route.js'

/**
 * Which of the consumer's subscriptions a channel of `route` serves (same filter rules as the hub:
 * types, sources, minimum priority; LatestOnly ones stay on the hub path, whose queue coalesces),
 * and which of its types other subscribers want too (the producer sends the hub a copy of those).
 */
export function termsFor(
  route: Route,
  producer: RouteEndpoint,
  consumer: RouteEndpoint,
  seq: number,
  internals: BusInternals,
): { terms: DirectTerms; covered: Set<Subscription> } {
  const targets: DirectTarget[] = []
  const covered = new Set<Subscription>()
  for (const { subscription, handlerTimeoutMs } of consumer.remoteSubscriptions()) {
    const { filter, mode } = subscription
    if (subscription.closed || mode.kind === 'LatestOnly') continue
    if (route.mode !== undefined && mode.kind !== route.mode) continue
    if (filter.sources !== undefined && !filter.sources.has(producer.module)) continue
    const types = route.types.filter((type) => filter.types === undefined || filter.types.has(type))
    if (types.length === 0) continue
    covered.add(subscription)
    targets.push({
      sid: subscription.id,
      types,
      ...(filter.minPriority === undefined ? {} : { minPriority: filter.minPriority }),
      reliable: mode.kind === 'Reliable',
      timeoutMs: handlerTimeoutMs,
    })
  }
  const shared = route.types.filter((type) =>
    internals
      .subscribersOf(type)
      .some(
        (other) =>
          !covered.has(other) &&
          !other.closed &&
          (other.filter.sources === undefined || other.filter.sources.has(producer.module)),
      ),
  )
  return { terms: { seq, targets, shared }, covered }
}

/** Whether two terms serve the same subscriptions the same way and share the same types. */
export function sameTerms(a: DirectTerms, b: DirectTerms): boolean {
  return JSON.stringify([a.targets, a.shared]) === JSON.stringify([b.targets, b.shared])
}
