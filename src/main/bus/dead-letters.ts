/**
 * The dead-letter queue: bounded, oldest evicted first (and counted). Replay needs the router, so
 * the bus implements it on top of `select` and `remove`.
 */
import type { DeadLetterEntry, DeadLetterFilter, DeadLetterSelector } from '../../shared/dead-letter.js'

function matches(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.module === undefined || entry.module === filter.module) &&
    (filter.subscriptionId === undefined || entry.subscriptionId === filter.subscriptionId) &&
    (filter.type === undefined || entry.message.payload.type === filter.type)
  )
}

export class DeadLetterStore {
  private readonly entries = new Map<string, DeadLetterEntry>()
  /** Entries pushed out by newer ones since the bus started. */
  evicted = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  add(entry: DeadLetterEntry): void {
    this.entries.set(entry.id, Object.freeze(entry))
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
      this.evicted++
    }
  }

  /** Entries selected by ids or filter, oldest first, without removing them. */
  select(selector: DeadLetterSelector = {}): DeadLetterEntry[] {
    if (Array.isArray(selector)) {
      return (selector as readonly string[]).flatMap((id) => this.entries.get(id) ?? [])
    }
    const filter = selector as DeadLetterFilter
    return [...this.entries.values()].filter((entry) => matches(entry, filter))
  }

  /** Removes one entry; whether it was there. */
  remove(id: string): boolean {
    return this.entries.delete(id)
  }
}
