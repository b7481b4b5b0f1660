/**
 * The ids of the last publishes a window's connection had accepted (one whose hello said `again`),
 * so that what it sends again after the connection dropped (not knowing whether the hub took it
 * before the drop) is taken once.
 */

/**
 * Publishes each connection remembers: more than an endpoint has unanswered when its connection
 * drops, for any but a flood (beyond it, a resent publish may be taken twice: at least once).
 */
export const TAKEN_MEMORY = 4096

/** Ended connections of one module whose publishes the hub remembers (a reconnecting window's, and a few before). */
export const ENDED_CONNECTIONS_REMEMBERED = 4

/**
 * A ring of the last {@link TAKEN_MEMORY} ids: one array slot written per publish, so the hub's hot
 * path pays no hashing for it; the rare resend pays a scan.
 */
export class TakenIds {
  private readonly ids = new Array<string | undefined>(TAKEN_MEMORY)
  private next = 0

  /** Remembers `id` as the newest, forgetting the oldest past {@link TAKEN_MEMORY}. */
  add(id: string): void {
    this.ids[this.next] = id
    this.next = this.next + 1 === TAKEN_MEMORY ? 0 : this.next + 1
  }

  has(id: string): boolean {
    return this.ids.includes(id)
  }
}
