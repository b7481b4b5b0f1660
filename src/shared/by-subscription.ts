/** Tallies kept by subscription, then message type, on both sides of a direct channel. */

/** The value for `sid` and `type` in `map`, made by `create` the first time it is asked for. */
export function bySubscriptionAndType<T>(
  map: Map<string, Map<string, T>>,
  sid: string,
  type: string,
  create: () => T,
): T {
  let byType = map.get(sid)
  if (byType === undefined) {
    byType = new Map()
    map.set(sid, byType)
  }
  let value = byType.get(type)
  if (value === undefined) {
    value = create()
    byType.set(type, value)
  }
  return value
}
