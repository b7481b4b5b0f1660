/**
 * Message filters: a declarative part (types, sources, minimum priority) that crosses ports as a
 * plain object, and an optional predicate that runs where the handler runs. All present conditions
 * must hold; an absent one matches anything; an empty list matches nothing.
 */
import { z } from 'zod'
import { type MessagePriority, type MessageType, messagePrioritySchema, moduleIdSchema } from './catalog.js'
import { describeThrown, EventBusError, isEventBusError, issueAt } from './errors.js'
import type { BusMessage, Envelope } from './message.js'

/** The declarative part of a filter as a plain object. */
export const plainFilterSchema = z
  .object({
    types: z.array(z.string().min(1).max(128)).max(1024).readonly().optional(),
    sources: z.array(moduleIdSchema).max(1024).readonly().optional(),
    minPriority: messagePrioritySchema.optional(),
  })
  .strict()

/** `{ types?, sources?, minPriority? }`; `types` narrows the handler's message type. */
export type PlainFilter<T extends string = string> = Omit<z.infer<typeof plainFilterSchema>, 'types'> & {
  readonly types?: readonly T[]
}

/** The message a predicate of a filter on types `T` sees. */
export type FilterMessage<T extends string> = T extends MessageType
  ? BusMessage<T>
  : Envelope<{ readonly type: T; readonly data: unknown }>

/**
 * A predicate over the filtered messages. Declared as a method type so that a filter on some types
 * is still a filter on strings (parameters of methods are bivariant).
 */
export type MessagePredicate<T extends string> = {
  check(message: FilterMessage<T>): boolean
}['check']

/**
 * An own copy of a list. Anything else is kept as given for `subscribe` to refuse by name:
 * spreading a string (`MessageFilter.types('RawEvent')`) would make a list of its characters,
 * refused as "unknown message type 'R'".
 */
function copied<T>(list: readonly T[]): readonly T[] {
  return Array.isArray(list) ? [...list] : list
}

/** A builder's own copy of a list, frozen as the filter holding it is (filters derived from it share it). */
function frozenCopy<T>(list: readonly T[]): readonly T[] {
  const copy = copied(list)
  return copy === list ? list : Object.freeze(copy)
}

/** An immutable filter; every builder returns a new one. */
export class MessageFilter<T extends string = string> {
  private constructor(
    readonly types: readonly T[] | undefined,
    readonly sources: readonly string[] | undefined,
    readonly minPriority: MessagePriority | undefined,
    readonly predicate: MessagePredicate<T> | undefined,
  ) {
    Object.freeze(this)
  }

  /** Matches every message. */
  static all(): MessageFilter<string> {
    return new MessageFilter(undefined, undefined, undefined, undefined)
  }

  /** Matches messages of these types; handlers are typed with exactly these payloads. */
  static types<T extends string>(types: readonly T[]): MessageFilter<T> {
    return new MessageFilter(frozenCopy(types), undefined, undefined, undefined)
  }

  /** Matches messages from these sources. */
  static sources(sources: readonly string[]): MessageFilter<string> {
    return new MessageFilter(undefined, frozenCopy(sources), undefined, undefined)
  }

  /** Matches messages of these types from these sources. */
  static typesAndSources<T extends string>(
    types: readonly T[],
    sources: readonly string[],
  ): MessageFilter<T> {
    return new MessageFilter(frozenCopy(types), frozenCopy(sources), undefined, undefined)
  }

  /** Builds a filter from its plain form. */
  static fromPlain<T extends string>(plain: PlainFilter<T>): MessageFilter<T> {
    return new MessageFilter(
      plain.types && frozenCopy(plain.types),
      plain.sources && frozenCopy(plain.sources),
      plain.minPriority,
      undefined,
    )
  }

  /** Also requires `predicate(message)`; a predicate that throws counts as no match. */
  withPredicate(predicate: MessagePredicate<T>): MessageFilter<T> {
    return new MessageFilter(this.types, this.sources, this.minPriority, predicate)
  }

  /** Also requires `message.priority >= minPriority`. */
  withMinPriority(minPriority: MessagePriority): MessageFilter<T> {
    return new MessageFilter(this.types, this.sources, minPriority, this.predicate)
  }

  /** The declarative part, which crosses ports; the predicate stays behind. */
  toPlain(): PlainFilter<T> {
    const plain: { types?: readonly T[]; sources?: readonly string[]; minPriority?: MessagePriority } = {}
    if (this.types) plain.types = copied(this.types)
    if (this.sources) plain.sources = copied(this.sources)
    if (this.minPriority !== undefined) plain.minPriority = this.minPriority
    return plain
  }
}

/** What every API that takes a filter accepts. */
export type FilterInput<T extends string = string> = MessageFilter<T> | PlainFilter<T>

/**
 * What `subscribe`'s untyped form asks of a filter on types `T`: nothing when `T` is `string` (a
 * filter that names no types, or names them only at run time, where a type the catalog lacks is
 * refused with `InvalidFilter`); otherwise its types are literals the catalog lacks (the typed form
 * took every filter on catalog types), and this names them, so a misspelt type fails to compile
 * instead of at run time.
 */
export type TypesKnownOnlyAtRunTime<T extends string> = string extends T
  ? unknown
  : { readonly 'types the bus catalog does not have': T }

/** A filter validated and prepared for routing. */
export interface CompiledFilter {
  /** The message types it matches; undefined matches any, an empty set none. */
  readonly types: ReadonlySet<string> | undefined
  /** The sources it matches; undefined matches any, an empty set none. */
  readonly sources: ReadonlySet<string> | undefined
  /** The lowest priority it matches; undefined matches any. */
  readonly minPriority: MessagePriority | undefined
  /** Runs last, only on messages the rest matched; a throw counts as no match. */
  readonly predicate: ((message: Envelope) => boolean) | undefined
  /** A short human-readable description for metrics and the inspector. */
  readonly summary: string
}

function invalid(reason: string): EventBusError {
  return EventBusError.of('InvalidFilter', { reason })
}

/**
 * Validates a filter (builder or plain form) and prepares it for routing. Types not in the catalog
 * are refused, since such a subscription could never receive anything.
 * @throws EventBusError `InvalidFilter`
 */
export function compileFilter(input: unknown, isKnownType: (type: string) => boolean): CompiledFilter {
  try {
    return compileReadable(input, isKnownType)
  } catch (error) {
    if (isEventBusError(error)) throw error
    // Reading it threw: a getter, or a Proxy's trap.
    throw invalid(`the filter could not be read: ${describeThrown(error)}`)
  }
}

/** @throws EventBusError `InvalidFilter`, or whatever reading `input` throws */
function compileReadable(input: unknown, isKnownType: (type: string) => boolean): CompiledFilter {
  let predicate: unknown
  let declarative: unknown = input
  if (input instanceof MessageFilter) {
    predicate = input.predicate
    declarative = input.toPlain()
  } else if (input === null || typeof input !== 'object') {
    throw invalid('a filter is a MessageFilter or a plain object { types?, sources?, minPriority? }')
  }
  if (predicate !== undefined && typeof predicate !== 'function')
    throw invalid('the predicate is not a function')
  const parsed = plainFilterSchema.safeParse(declarative)
  if (!parsed.success) {
    throw invalid(issueAt(parsed.error, 'filter'))
  }
  const { types, sources, minPriority } = parsed.data
  const unknownType = types?.find((type) => !isKnownType(type))
  if (unknownType !== undefined) throw invalid(`unknown message type '${unknownType}'`)
  const parts = [
    types ? `types=[${types.join(',')}]` : 'types=*',
    sources ? `sources=[${sources.join(',')}]` : 'sources=*',
  ]
  if (minPriority !== undefined) parts.push(`minPriority>=${minPriority}`)
  if (predicate) parts.push('predicate')
  return {
    types: types && new Set(types),
    sources: sources && new Set(sources),
    minPriority,
    predicate: predicate as CompiledFilter['predicate'],
    summary: parts.join(' '),
  }
}

/** Whether the declarative part (sources and minimum priority; types are routed by index) matches. */
export function matchesSourceAndPriority(filter: CompiledFilter, message: Envelope): boolean {
  if (filter.minPriority !== undefined && message.priority < filter.minPriority) return false
  return filter.sources === undefined || filter.sources.has(message.source)
}
