/**
 * Accounting for a direct channel whose producer went without its final report (killed, or its
 * link to the hub broke): its counts since the last report went with it, but its consumer knows
 * what arrived and how each delivery ended, and the hub knows the dead letters it was given. The
 * difference between those and what the producer did report is what it never reported. (The
 * hub counts hand-backs itself, as they arrive.)
 */
import {
  type ChannelOutcomes,
  DIRECT_COUNT_NAMES,
  type DirectCounts,
  zeroDirectCounts,
} from '../../shared/wire.js'
import { addCount } from '../bus/metrics.js'

/** What a producer reported over a channel's life for one subscription and type (sums of reports). */
export function addCounts(total: DirectCounts, counts: DirectCounts): void {
  for (const name of DIRECT_COUNT_NAMES) total[name] = addCount(total[name], counts[name])
}

/**
 * The counts a producer never reported for one subscription and type, given everything it did
 * report (`reported`), the dead letters the hub took from it (`deadLettered`) and what the consumer
 * saw (`seen`). Copies that never left the producer (dropped or handed back there) are counted in
 * pairs in one report, so only the copies that left need making up. The consumer's word only adds:
 * a count it puts below the producer's is taken as the producer's.
 */
export function unreportedCounts(
  reported: DirectCounts,
  deadLettered: number,
  seen: ChannelOutcomes,
): DirectCounts {
  const missing = (truth: number, counted: number) => Math.max(0, truth - counted)
  const routed = missing(seen.arrived, reported.sent)
  const dropped = missing(seen.dropped, reported.sentDropped)
  return {
    ...zeroDirectCounts(seen.sid, seen.type),
    routed,
    sent: routed,
    delivered: missing(seen.delivered, reported.delivered),
    failed: missing(seen.failed, reported.failed),
    dropped,
    sentDropped: dropped,
    deadLettered: missing(deadLettered, reported.deadLettered),
    slowHandlers: missing(seen.slow, reported.slowHandlers),
  }
}
