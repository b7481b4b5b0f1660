/**
 * The message tail's order: newest publish time first. Messages do not reach the inspector in
 * that order: a direct route's producer sends its sample of messages with its periodic report, up
 * to 250 ms after they left, while the hub streams its own at once. Listed by arrival, the time
 * column ran backwards and forwards between a route's messages and the hub's.
 */

interface Timed {
  message: { timestamp: Date }
}

const newestFirst = (a: Timed, b: Timed) => b.message.timestamp.getTime() - a.message.timestamp.getTime()

/**
 * `shown` (newest first) with the entries of `batch` (in arrival order) placed by their publish
 * time, keeping the `limit` newest. Entries published in the same millisecond keep arrival order,
 * the later on top, as a list by arrival would have them: the sort is stable, and the reversed
 * batch comes before what was shown. A message whose publisher dated it ahead stays on top until
 * newer ones pass it.
 */
export function withArrivals<T extends Timed>(shown: readonly T[], batch: readonly T[], limit: number): T[] {
  return [...batch].reverse().concat(shown).sort(newestFirst).slice(0, limit)
}
