/**
 * Per-subscription queues. A bounded priority queue is a PriorityFifo (a FIFO per priority level), so
 * equal priorities keep publish order and every operation is O(1). The LatestOnly queue keeps at most
 * one pending copy per (type, source).
 */
import type { Envelope } from '../../shared/message.js'
import { PriorityFifo } from '../../shared/priority-fifo.js'

/** One copy of a message waiting for (or between) delivery attempts to one subscription. */
export interface PendingCopy {
  readonly message: Envelope
  /** `performance.now()` at publish (or at replay), the start of delivery latency. */
  readonly publishedAt: number
  /** Handler invocations so far, including the first. */
  attempts: number
  firstFailedAt?: number
  lastError?: string
}

export interface SubscriptionQueue {
  readonly size: number
  /** Adds a copy; returns the copy it displaced (LatestOnly coalescing), if any. */
  push(copy: PendingCopy): PendingCopy | undefined
  /** Removes the next copy to deliver: the highest priority, oldest first. */
  shift(): PendingCopy | undefined
  /** Removes and returns every pending copy. */
  drain(): PendingCopy[]
}

/** FIFO per priority level; higher levels first. */
export class PriorityQueue implements SubscriptionQueue {
  private readonly copies = new PriorityFifo<PendingCopy>()

  get size(): number {
    return this.copies.length
  }

  push(copy: PendingCopy): undefined {
    this.copies.push(copy, copy.message.priority)
    return undefined
  }

  /** Puts a copy back at the head of its priority level (a retry after backoff, a redelivery). */
  pushFront(copy: PendingCopy): void {
    this.copies.unshift(copy, copy.message.priority)
  }

  shift(): PendingCopy | undefined {
    return this.copies.shift()
  }

  drain(): PendingCopy[] {
    const copies: PendingCopy[] = []
    this.copies.drain(copies)
    return copies
  }
}

/**
 * At most one pending copy per (type, source). A newer copy takes the older one's place in line,
 * so keys stay fair; the displaced copy is returned for counting as coalesced.
 */
export class LatestOnlyQueue implements SubscriptionQueue {
  private readonly pending = new Map<string, PendingCopy>()

  get size(): number {
    return this.pending.size
  }

  push(copy: PendingCopy): PendingCopy | undefined {
    const key = LatestOnlyQueue.keyOf(copy.message)
    const displaced = this.pending.get(key)
    this.pending.set(key, copy)
    return displaced
  }

  shift(): PendingCopy | undefined {
    let best: [string, PendingCopy] | undefined
    for (const entry of this.pending) {
      if (best === undefined || entry[1].message.priority > best[1].message.priority) best = entry
    }
    if (best === undefined) return undefined
    this.pending.delete(best[0])
    return best[1]
  }

  drain(): PendingCopy[] {
    const copies = [...this.pending.values()]
    this.pending.clear()
    return copies
  }

  /** Whether a copy with this key is pending (used to decide if a new key fits the bound). */
  holds(message: Envelope): boolean {
    return this.pending.has(LatestOnlyQueue.keyOf(message))
  }

  private static keyOf(message: Envelope): string {
    return `${message.payload.type}\u0000${message.source}`
  }
}
