/**
 * What is in flight, by the sequential id it was sent with. Ids are issued in increasing order and
 * mostly settled in that order, so a sliding array finds an entry by subtraction: no hashing, and
 * no rehashing as a hash map does when entries churn by the million.
 */
export class InFlight<T> {
  /** Entries from id `base` on; settled ones are holes until the front moves past them. */
  private slots: (T | undefined)[] = []
  /** Beside each slot, the time given with its entry (numbers only: unboxed, no garbage per entry). */
  private times: number[] = []
  /** The time given with the entry `take` returned last. */
  takenAt = 0
  private front = 0
  private base = 0
  private lastId = -Infinity
  size = 0

  /**
   * Adds `value` under `id`, which must be greater than every id added before, with the time it
   * was sent (`take` gives it back as `takenAt`).
   */
  add(id: number, value: T, at = 0): void {
    if (id <= this.lastId) throw new RangeError(`in-flight ids must increase: ${id} after ${this.lastId}`)
    if (this.size === 0) this.restartAt(id)
    // Ids skipped by the caller (none in practice) are holes like settled entries.
    for (let next = this.base + this.slots.length; next < id; next++) {
      this.slots.push(undefined)
      this.times.push(0)
    }
    this.slots.push(value)
    this.times.push(at)
    this.lastId = id
    this.size++
  }

  /** Removes and returns the entry under `id`, if it is in flight. */
  take(id: number): T | undefined {
    const index = id - this.base
    if (index < this.front || index >= this.slots.length) return undefined
    const value = this.slots[index]
    if (value === undefined) return undefined
    this.slots[index] = undefined
    this.takenAt = this.times[index] as number
    this.size--
    while (this.front < this.slots.length && this.slots[this.front] === undefined) this.front++
    // Settled entries at the front are dropped once they are most of the array (amortized O(1)).
    if (this.front > 1024 && this.front * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.front)
      this.times = this.times.slice(this.front)
      this.base += this.front
      this.front = 0
    }
    return value
  }

  /** The entries in flight, oldest first (a copy: taking entries while going through it is fine). */
  values(): T[] {
    return this.entries().map(([, value]) => value)
  }

  /** The ids and entries in flight, oldest first (a copy, as `values`). */
  entries(): [number, T][] {
    const entries: [number, T][] = []
    for (let i = this.front; i < this.slots.length; i++) {
      const value = this.slots[i]
      if (value !== undefined) entries.push([this.base + i, value])
    }
    return entries
  }

  clear(): void {
    this.restartAt(this.lastId + 1)
  }

  private restartAt(id: number): void {
    this.slots = []
    this.times = []
    this.front = 0
    this.base = id
    this.size = 0
  }
}
