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
 * the later on top, as a list by arrival would have them.
 */
export function withArrivals<T extends Timed>(shown: readonly T[], batch: readonly T[], limit: number): T[] {
  // A stable sort of the reversed batch keeps the later arrival first among equal times.
  const arrivals = [...batch].reverse().sort(newestFirst)
  const merged: T[] = []
  let s = 0
  let a = 0
  while (merged.length < limit && (s < shown.length || a < arrivals.length)) {
    const fromShown = shown[s]
    const arrival = arrivals[a]
    // On a tie the arrival goes first: it came later.
    if (arrival !== undefined && (fromShown === undefined || newestFirst(arrival, fromShown) <= 0)) {
      merged.push(arrival)
      a++
    } else if (fromShown !== undefined) {
      merged.push(fromShown)
      s++
    }
  }
  return merged
}
