/**
 * The objects a walk over a value has met, to tell one met a second time (a value shared by two
 * places, or a cycle): a structured clone keeps it one object and superjson notes it, so the walks
 * that write a message faster than they (superjson-form, text-shapes) must leave it to them.
 * Runtime-neutral.
 */

/** Beyond this many objects they are kept in a Set rather than an array scanned for each. */
const LINEAR_LIMIT = 16

export class Meetings {
  private readonly list: object[] = []
  private set: Set<object> | undefined

  /** Records `value` as met; false when it was met before. */
  first(value: object): boolean {
    if (this.set !== undefined) {
      if (this.set.has(value)) return false
      this.set.add(value)
      return true
    }
    const { list } = this
    for (let index = 0; index < list.length; index++) if (list[index] === value) return false
    list.push(value)
    if (list.length > LINEAR_LIMIT) this.set = new Set(list)
    return true
  }

  /** Forgets every object met, for the next walk. */
  clear(): void {
    this.list.length = 0
    this.set = undefined
  }
}
