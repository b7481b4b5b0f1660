/**
 * Values kept in two levels of maps: tallies by subscription then message type on both sides of a
 * direct channel, compiled schemas by payload schema then type.
 */

/** The part of a `Map` or `WeakMap` from `K` to inner maps that {@link nestedValue} uses. */
interface OuterMap<K, T> {
  get(key: K): Map<string, T> | undefined
  set(key: K, value: Map<string, T>): unknown
}

/** The value for `outer` then `inner` in `map`, made by `create` the first time it is asked for. */
export function nestedValue<K, T>(map: OuterMap<K, T>, outer: K, inner: string, create: () => T): T {
  let byInner = map.get(outer)
  if (byInner === undefined) {
    byInner = new Map()
    map.set(outer, byInner)
  }
  let value = byInner.get(inner)
  if (value === undefined) {
    value = create()
    byInner.set(inner, value)
  }
  return value
}
