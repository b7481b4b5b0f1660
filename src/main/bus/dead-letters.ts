/**
 * The dead-letter queue: bounded, oldest evicted first (and counted). Listing, replay and purge
 * are built on its `select` and `remove` (dead-letter-commands.ts), replay with the bus's router.
 */
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterSelector,
  matchesDeadLetterFilter,
} from '../../shared/dead-letter.js'

/**
 * Where dead letters outlive the process (a file in the app's data folder, in the hosts). The bus
 * core stays runtime-neutral: it only calls this interface.
 */
export interface DeadLetterPersistence {
  /** Entries saved by earlier runs, oldest first. */
  load(): Promise<DeadLetterEntry[]>
  /** Records a new entry. Writes may be queued; they are applied in call order. */
  added(entry: DeadLetterEntry): void
  /** Records that an entry left the queue (replayed, purged or evicted). */
  removed(id: string): void
  /** Writes out what is queued. */
  flush(): Promise<void>
}

export class DeadLetterStore {
  private readonly entries = new Map<string, DeadLetterEntry>()
  /** Entries pushed out by newer ones since the bus started. */
  evicted = 0
  /**
   * Entries added and removed since the bus started. Entries never change in place, so the list is
   * the same as long as this is: a reader need list it again only when this moved.
   */
  changes = 0

  constructor(
    readonly capacity: number,
    private readonly persistence?: DeadLetterPersistence,
  ) {}

  /** Loads what earlier runs left (oldest evicted beyond capacity). */
  async restore(): Promise<void> {
    if (this.persistence === undefined) return
    const saved = await this.persistence.load()
    for (const entry of saved) this.add(entry, false)
  }

  flush(): Promise<void> {
    return this.persistence?.flush() ?? Promise.resolve()
  }

  get size(): number {
    return this.entries.size
  }

  add(entry: DeadLetterEntry, persist = true): void {
    this.entries.set(entry.id, Object.freeze(entry))
    this.changes++
    if (persist) this.persistence?.added(entry)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.remove(oldest)
      this.evicted++
    }
  }

  /**
   * Entries selected by ids (each once, however often it is named: a replay must not enqueue an
   * entry twice) or by filter, oldest first, without removing them.
   */
  select(selector: DeadLetterSelector = {}): DeadLetterEntry[] {
    if (Array.isArray(selector)) {
      return [...new Set(selector as readonly string[])].flatMap((id) => this.entries.get(id) ?? [])
    }
    const filter = selector as DeadLetterFilter
    return [...this.entries.values()].filter((entry) => matchesDeadLetterFilter(entry, filter))
  }

  /** Removes one entry; whether it was there. */
  remove(id: string): boolean {
    const removed = this.entries.delete(id)
    if (removed) {
      this.changes++
      this.persistence?.removed(id)
    }
    return removed
  }
}
