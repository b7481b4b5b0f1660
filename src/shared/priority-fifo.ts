import { PRIORITY_LEVELS } from './catalog.js'
import { RingBuffer } from './ring-buffer.js'

/**
 * Items waiting their turn, highest priority first and in arrival order within one priority: a ring
 * buffer per level, so every operation is O(1). BUS-API's order ("among the messages pending at the
 * same moment, higher priority goes first") holds wherever messages wait: a subscription's queue in
 * the bus, the deliveries an endpoint holds past its `workers`, the copies a direct channel's
 * producer holds past its window.
 */
export class PriorityFifo<T> {
  private readonly levels = Array.from({ length: PRIORITY_LEVELS }, () => new RingBuffer<T>())
  /** Items held, all priorities together. */
  length = 0

  /** Adds `item` behind those of its priority. */
  push(item: T, priority: number): void {
    this.level(priority).push(item)
    this.length++
  }

  /** Puts `item` ahead of those of its priority (a retry after its backoff, a redelivery). */
  unshift(item: T, priority: number): void {
    this.level(priority).unshift(item)
    this.length++
  }

  /** Removes the next item: the oldest of the highest priority held. */
  shift(): T | undefined {
    if (this.length === 0) return undefined
    for (let priority = PRIORITY_LEVELS - 1; priority >= 0; priority--) {
      const item = this.levels[priority]!.shift()
      if (item !== undefined) {
        this.length--
        return item
      }
    }
    return undefined
  }

  /** Moves every item into `into`, in the order `shift` would give them. */
  drain(into: { push(item: T): unknown }): void {
    for (let priority = PRIORITY_LEVELS - 1; priority >= 0; priority--) this.levels[priority]!.drain(into)
    this.length = 0
  }

  private level(priority: number): RingBuffer<T> {
    // Messages are validated before anything queues them; should an invalid priority get here all
    // the same, the item waits last rather than the caller throwing halfway through a batch.
    return this.levels[priority] ?? (this.levels[0] as RingBuffer<T>)
  }
}
