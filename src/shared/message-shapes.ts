/**
 * A batch of messages over structured-clone ports with the keys of their data written once: the
 * messages of a `pubs` or `dlvs` frame whose `payload.data` share a shape (the same keys in the
 * same order, nested objects alike) travel as rows of values beside one template of that shape.
 *
 * A structured clone writes every key of every object and reads each back into a string the
 * receiver must look up; the benchmark's keystroke holds nine keys in its data, against about as
 * many values. Through a structured clone, a frame of 64 keystrokes cost ~1.35 µs a message as
 * rows, ~0.35 µs of it building the rows and the objects in JavaScript (where V8 gives every object
 * of a shape one hidden class), against ~2.1 µs as tuples (see message-tuple). The hub clones every
 * message twice: two hops ran 6–13 % faster in interleaved runs.
 *
 * What a receiver rebuilds is what a structured clone would have given it: the same own keys in the
 * same order with the same values. Only plain objects (whose prototype is `Object.prototype`) are
 * written as templates; anything else in them (arrays, Dates, Maps, null-prototype objects, class
 * instances) is a value of its row and is cloned as it is. A message whose data fits no template
 * travels as a tuple, in a row of its own. Two differences: a plain object met twice in a batch (in
 * one message's data or in two) arrives as two equal objects, where a clone keeps it one (messages
 * are data, and nothing in the bus compares their objects by identity); and a Proxy of a plain
 * object, which a clone refuses, travels as a row of what its traps return (JavaScript cannot tell
 * it apart).
 *
 * Wire form: the frame's `msgs` are rows and the frame gains `shapes`, a list of templates. A
 * template is a flat array `[key, child, key, child, …]` where a child is 0 (a value, taken from
 * the row in order) or the template of a nested object. A row is
 * `[shape, id, timestamp, source, type, priority, correlationId, …values]` for a message whose data
 * fits template `shape`, or `[-1, tuple]` for any other message. Rows and templates come from peers
 * that are not trusted: each is checked before anything is built from it.
 */
import { type PlainEnvelope, packMessage, plainEnvelope, unpackMessage } from './message-tuple.js'

/** `[key, child, key, child, …]`: a child is 0 (a value of the row) or a nested object's template. */
export type Template = unknown[]

/** Templates a frame carries at most: the shapes one producer mixes in a tick are few. */
export const MAX_SHAPES = 8
/** Keys in one template at most, nested ones included; larger data travels as a tuple. */
export const MAX_TEMPLATE_KEYS = 256
/** Nesting of a template at most; deeper objects are values of the row. */
export const MAX_TEMPLATE_DEPTH = 16

/** A row's items before its values: shape, id, timestamp, source, type, priority, correlationId. */
const ROW_HEAD = 7
/** The shape of a row that holds a message as it would travel without templates. */
export const UNSHAPED = -1

/** Rows, and the templates they refer to (absent: every message travels as a tuple). */
export interface PackedBatch {
  msgs: unknown[]
  shapes?: Template[]
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** Keys in the template under construction; a template past MAX_TEMPLATE_KEYS is given up. */
let templateKeys = 0

/**
 * The template of plain object `value`, or undefined when it cannot have one: a key it inherits
 * (`for…in` would list it, a clone would not), a key a receiver could not set as its own
 * (`__proto__`), or too many keys.
 */
function templateOf(value: Record<string, unknown>, depth: number): Template | undefined {
  const template: Template = []
  for (const key in value) {
    if (!Object.hasOwn(value, key) || key === '__proto__' || ++templateKeys > MAX_TEMPLATE_KEYS)
      return undefined
    const child = value[key]
    if (isPlainObject(child) && depth + 1 < MAX_TEMPLATE_DEPTH) {
      const nested = templateOf(child, depth + 1)
      if (nested === undefined) return undefined
      template.push(key, nested)
    } else template.push(key, 0)
  }
  return template
}

/** Whether the keys of plain object `value` are `template`'s, in its order, and no more. */
export function hasKeysOf(value: Record<string, unknown>, template: Template): boolean {
  let index = 0
  for (const key in value) {
    if (template[index] !== key) return false
    index += 2
  }
  return index === template.length
}

/**
 * Appends the values of `value` to `row` in `template`'s order if `value` has its shape; false
 * (with `row` partly filled) if not. A child that is a number stands for a value (over text, 1
 * says it is a Date's ISO string). An object that lists the template's keys in order has them as
 * its own: it has the prototype the template's object had, which lent that one no keys.
 */
export function fill(value: unknown, template: Template, row: unknown[]): boolean {
  if (!isPlainObject(value) || !hasKeysOf(value, template)) return false
  for (let index = 0; index < template.length; index += 2) {
    const child = template[index + 1]
    const item = value[template[index] as string]
    if (typeof child === 'number') row.push(item)
    else if (!fill(item, child as Template, row)) return false
  }
  return true
}

/** The row of `envelope` under template `shape`, or undefined if its data does not fit. */
function rowOf(envelope: PlainEnvelope, shape: number, template: Template): unknown[] | undefined {
  const { id, timestamp, source, payload, priority, correlationId } = envelope
  const row: unknown[] = [shape, id, timestamp, source, payload.type, priority, correlationId]
  return fill(payload.data, template, row) ? row : undefined
}

/**
 * `messages` packed for a structured clone: as rows and templates when at least one message's data
 * has a shape, else as tuples (see message-tuple).
 */
export function packBatch(messages: readonly unknown[]): PackedBatch {
  const shapes: Template[] = []
  const rows = new Array<unknown>(messages.length)
  let shaped = 0
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]
    const envelope = plainEnvelope(message)
    let row: unknown[] | undefined
    if (envelope !== undefined) {
      for (let shape = 0; shape < shapes.length && row === undefined; shape++)
        row = rowOf(envelope, shape, shapes[shape] as Template)
      const { data } = envelope.payload
      if (row === undefined && shapes.length < MAX_SHAPES && isPlainObject(data)) {
        templateKeys = 0
        const template = templateOf(data, 0)
        if (template !== undefined) {
          shapes.push(template)
          row = rowOf(envelope, shapes.length - 1, template)
        }
      }
    }
    if (row !== undefined) shaped++
    rows[index] = row ?? [UNSHAPED, packMessage(message)]
  }
  if (shaped === 0) return { msgs: rows.map((row) => (row as unknown[])[1]) }
  return { msgs: rows, shapes }
}

/**
 * Why `candidate` is no template, or undefined if it is one; its keys and values are added to
 * `counts` (a row holds as many values as its template). `leaves` are the children that stand for
 * a value of the row (0; over text also 1, a Date).
 */
function templateProblem(
  candidate: unknown,
  depth: number,
  counts: { keys: number; values: number },
  leaves: readonly unknown[] = [0],
): string | undefined {
  if (!Array.isArray(candidate) || candidate.length % 2 !== 0)
    return 'a template is an array of key, child pairs'
  if (depth >= MAX_TEMPLATE_DEPTH) return `templates nest ${MAX_TEMPLATE_DEPTH} levels at most`
  for (let index = 0; index < candidate.length; index += 2) {
    const key = candidate[index]
    if (typeof key !== 'string') return 'template keys are strings'
    // Setting it would change the built object's prototype instead of giving it a key.
    if (key === '__proto__') return "a template key cannot be '__proto__'"
    if (++counts.keys > MAX_TEMPLATE_KEYS) return `a template holds ${MAX_TEMPLATE_KEYS} keys at most`
    const child = candidate[index + 1]
    if (leaves.includes(child)) counts.values++
    else {
      const problem = templateProblem(child, depth + 1, counts, leaves)
      if (problem !== undefined) return problem
    }
  }
  return undefined
}

/** How one carrier reads rows: see unpackRows. */
export interface RowReader {
  /** Template children that stand for a value of the row. */
  leaves: readonly unknown[]
  /** Items of a row before its values, its shape included. */
  head: number
  /** What a row is, for a refusal. */
  form: string
  /** The message a row under `template` stands for; throws (with the reason) on a bad value. */
  build(template: Template, row: unknown[]): unknown
  /** The message of a row `[-1, item]`, or why it cannot be read. */
  unshaped(item: unknown, index: number): { value: unknown } | { problem: string }
}

/**
 * Turns the rows of `msgs` back into messages, in place, with the templates `shapes`; returns why
 * they cannot be read (and leaves `msgs` as it may be) if a template or a row is malformed. Each
 * template is checked once, before any row is built from it.
 */
export function unpackRows(msgs: unknown[], shapes: unknown, reader: RowReader): string | undefined {
  if (!Array.isArray(shapes) || shapes.length === 0 || shapes.length > MAX_SHAPES)
    return `shapes is a list of 1 to ${MAX_SHAPES} templates`
  const rowLengths: number[] = []
  for (const template of shapes) {
    const counts = { keys: 0, values: 0 }
    const problem = templateProblem(template, 0, counts, reader.leaves)
    if (problem !== undefined) return `shapes: ${problem}`
    rowLengths.push(reader.head + counts.values)
  }
  for (let index = 0; index < msgs.length; index++) {
    const row = msgs[index]
    if (!Array.isArray(row)) return `msgs.${index}: a row is an array`
    const shape = row[0]
    if (shape === UNSHAPED && row.length === 2) {
      const read = reader.unshaped(row[1], index)
      if ('problem' in read) return read.problem
      msgs[index] = read.value
      continue
    }
    if (!Number.isInteger(shape) || shape < 0 || shape >= shapes.length || row.length !== rowLengths[shape])
      return `msgs.${index}: a row is ${reader.form}`
    try {
      msgs[index] = reader.build(shapes[shape] as Template, row)
    } catch (error) {
      return `msgs.${index}: ${(error as Error).message}`
    }
  }
  return undefined
}

/** Where the next value of the row being built is. */
let valueAt = 0

function build(template: Template, row: unknown[]): Record<string, unknown> {
  const value: Record<string, unknown> = {}
  for (let index = 0; index < template.length; index += 2) {
    const child = template[index + 1]
    value[template[index] as string] = child === 0 ? row[valueAt++] : build(child as Template, row)
  }
  return value
}

/** Rows over ports: an envelope's fields, then its data's values. */
const portRows: RowReader = {
  leaves: [0],
  head: ROW_HEAD,
  form: '[shape, id, timestamp, source, type, priority, correlationId, …values] or [-1, message]',
  build(template, row) {
    valueAt = ROW_HEAD
    const message: Record<string, unknown> = {
      id: row[1],
      timestamp: row[2],
      source: row[3],
      payload: { type: row[4], data: build(template, row) },
      priority: row[5],
    }
    if (row[6] !== undefined) message.correlationId = row[6]
    return message
  },
  unshaped: (item) => ({ value: unpackMessage(item) }),
}

/** The messages of a batch over ports back from rows, in place (see unpackRows). */
export function unpackBatch(msgs: unknown[], shapes: unknown): string | undefined {
  return unpackRows(msgs, shapes, portRows)
}
