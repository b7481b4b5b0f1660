/** A FIFO for hot paths: each priority level of a PriorityFifo. */

/** A growable ring buffer with O(1) operations at both ends. */
export class RingBuffer<T> {
  private items: (T | undefined)[] = new Array(16)
  private head = 0
  length = 0

  push(item: T): void {
    if (this.length === this.items.length) this.grow()
    this.items[(this.head + this.length) & (this.items.length - 1)] = item
    this.length++
  }

  unshift(item: T): void {
    if (this.length === this.items.length) this.grow()
    this.head = (this.head - 1) & (this.items.length - 1)
    this.items[this.head] = item
    this.length++
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.length--
    return item
  }

  drain(into: { push(item: T): unknown }): void {
    for (let item = this.shift(); item !== undefined; item = this.shift()) into.push(item)
  }

  private grow(): void {
    const grown: (T | undefined)[] = new Array(this.items.length * 2)
    for (let i = 0; i < this.length; i++) grown[i] = this.items[(this.head + i) & (this.items.length - 1)]
    this.items = grown
    this.head = 0
  }
}
