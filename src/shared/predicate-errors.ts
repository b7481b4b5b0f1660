import type { Link } from './link.js'
import {
  type EndpointFrame,
  type HubFrame,
  MAX_PREDICATE_ERRORS,
  MAX_SUBSCRIPTIONS_PER_PERR,
} from './wire.js'

/**
 * An endpoint's predicates that threw, per subscription, told to the hub once per tick in a `perr`
 * frame: BUS-API counts a throwing predicate in metrics, and the hub cannot run the endpoint's
 * functions. They go to the hub whichever way their deliveries came (the hub or a direct channel).
 */
export class PredicateErrors {
  private counts = new Map<string, number>()
  private flushQueued = false

  constructor(private readonly link: Link<HubFrame, EndpointFrame>) {}

  /** Subscription `sid`'s predicate threw once. */
  count(sid: string): void {
    const count = (this.counts.get(sid) ?? 0) + 1
    this.counts.set(sid, count)
    if (count === MAX_PREDICATE_ERRORS) this.flush()
    else if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(this.flush)
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false
    if (this.counts.size === 0) return
    const counts = [...this.counts].map(([sid, count]) => ({ sid, count }))
    this.counts = new Map()
    for (let from = 0; from < counts.length; from += MAX_SUBSCRIPTIONS_PER_PERR) {
      this.link.send({ t: 'perr', counts: counts.slice(from, from + MAX_SUBSCRIPTIONS_PER_PERR) })
    }
  }
}
