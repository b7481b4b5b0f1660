/**
 * A set of ids that keeps only the most recent `capacity` of them: memory an endpoint can add to
 * must stay bounded, whatever it sends. Forgetting the oldest costs at most a repeat (a message
 * taken again, delivered at least once), never a loss.
 */
export class RecentIds {
  private readonly ids = new Set<string>()

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.ids.size
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  /** Adds `id` (as the most recent); past `capacity`, the oldest is forgotten. */
  add(id: string): void {
    this.ids.delete(id)
    this.ids.add(id)
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string)
  }
}
