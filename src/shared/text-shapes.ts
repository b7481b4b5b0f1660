/**
 * Batches over text (WebSocket) with the keys of their messages written once, as over ports (see
 * message-shapes): a `pubs` or `dlvs` frame whose messages' superjson forms share a shape travels
 * as rows of values beside templates, instead of a superjson form a message. JSON text costs by the
 * character to parse and to decode from UTF-8; the benchmark's keystroke is ~443 characters in
 * superjson's form (its keys, its envelope's, and notes that two of its values are Dates) and ~212
 * as a row.
 *
 * A row stands for exactly the superjson form it was made from. Only forms whose notes are Dates at
 * places the template marks are written as rows: a template is built from the form's JSON, each
 * leaf marked 1 if the form notes a Date there (its ISO string is the row's value) and 0 if not; a
 * form fits a template only if its JSON has the template's keys in order and its notes name the
 * template's Dates in the same order. Anything else (Maps, Sets, `undefined`, an object met twice,
 * a Date in an array, keys superjson escapes) travels as its superjson form, in a row of its own.
 *
 * Wire form: the frame's `msgs` are rows and the frame gains `shapes`. A template is a flat array
 * `[key, child, …]` whose child is 0 (a JSON value of the row), 1 (a Date, as an ISO string in the
 * row) or a nested plain object's template; a row is `[shape, …values]`, or `[-1, form]` for a
 * message as its superjson form. The receiver checks templates and rows before building anything.
 *
 * A message that fits a template already made is written as its row straight from its values,
 * without its superjson form: the walk takes only what the form would hold as it is (JSON values,
 * and valid Dates at the template's Date leaves), so the row is the one the form would give. Any
 * doubt (a value superjson would note, an object met twice, a key it refuses) and the message takes
 * the path through its form.
 */

import { Meetings } from './meetings.js'
import {
  fill,
  hasKeysOf,
  isPlainObject,
  MAX_SHAPES,
  MAX_TEMPLATE_DEPTH,
  MAX_TEMPLATE_KEYS,
  type RowReader,
  type Template,
  UNSHAPED,
  unpackRows,
} from './message-shapes.js'
import { isForbiddenKey, MAX_NESTING_DEPTH } from './size.js'
import {
  dateFromIso,
  isoString,
  notedDatePaths,
  plainDate,
  plainScalar,
  type SuperjsonForm,
} from './superjson-form.js'

const JSON_VALUE = 0
const DATE = 1

/** A template of a form's JSON, and the paths of the Dates it marks, in the order it meets them. */
interface TextShape {
  template: Template
  dates: string[]
}

export interface PackedTextBatch {
  msgs: unknown[]
  shapes?: Template[]
}

/** The walk building a template: the path to the value at hand, and the keys so far. */
const keyPath: string[] = []
let templateKeys = 0

/**
 * The template of a form's `json`, its Date leaves marked (their paths added to `marked`), or
 * undefined when no row could stand for it: a key it inherits or `__proto__`, too many keys, a noted
 * Date that is no string. Objects MAX_TEMPLATE_DEPTH deep are values. Returning undefined, it may
 * leave `keyPath` long: shapeOf empties it before each walk.
 */
function templateOf(
  json: Record<string, unknown>,
  dates: ReadonlySet<string>,
  marked: string[],
): Template | undefined {
  const template: Template = []
  for (const key in json) {
    if (!Object.hasOwn(json, key) || key === '__proto__' || ++templateKeys > MAX_TEMPLATE_KEYS)
      return undefined
    const child = json[key]
    keyPath.push(key)
    const path = keyPath.join('.')
    if (dates.has(path)) {
      if (typeof child !== 'string') return undefined
      marked.push(path)
      template.push(key, DATE)
    } else if (isPlainObject(child) && keyPath.length < MAX_TEMPLATE_DEPTH) {
      const nested = templateOf(child, dates, marked)
      if (nested === undefined) return undefined
      template.push(key, nested)
    } else template.push(key, JSON_VALUE)
    keyPath.pop()
  }
  return template
}

/** The shape of `form`, or undefined when it has none a row could stand for exactly. */
function shapeOf(form: SuperjsonForm, dates: string[]): TextShape | undefined {
  if (!isPlainObject(form.json)) return undefined
  keyPath.length = 0
  templateKeys = 0
  const marked: string[] = []
  const template = templateOf(form.json, new Set(dates), marked)
  // Each noted Date at exactly one marked leaf, in the notes' order: then the row revives the same.
  if (template === undefined || !samePaths(marked, dates)) return undefined
  return { template, dates }
}

function samePaths(one: readonly string[], other: readonly string[]): boolean {
  if (one.length !== other.length) return false
  for (let index = 0; index < one.length; index++) if (one[index] !== other[index]) return false
  return true
}

/** The row of `form` under shape number `index`, or undefined if it does not fit. */
function rowOf(form: SuperjsonForm, dates: string[], index: number, shape: TextShape): unknown[] | undefined {
  if (!samePaths(dates, shape.dates)) return undefined
  const row: unknown[] = [index]
  return fill(form.json, shape.template, row) ? row : undefined
}

/** The row of `form` under a shape of `shapes`, made one if none fits and there is room. */
function rowOfForm(form: SuperjsonForm, shapes: TextShape[]): unknown[] | undefined {
  const dates = notedDatePaths(form)
  if (dates === undefined) return undefined
  for (let shape = 0; shape < shapes.length; shape++) {
    const row = rowOf(form, dates, shape, shapes[shape] as TextShape)
    if (row !== undefined) return row
  }
  if (shapes.length === MAX_SHAPES) return undefined
  const shape = shapeOf(form, dates)
  if (shape === undefined) return undefined
  shapes.push(shape)
  return rowOf(form, dates, shapes.length - 1, shape)
}

/**
 * Containers met by the walk writing a row from a message's values. A walk started from inside
 * another (a getter that publishes a full frame) takes the path through its form instead.
 */
const met = new Meetings()
let writingRow = false

/**
 * Whether `value` is JSON its superjson form holds as it is: strings, booleans, finite numbers
 * other than −0, null, and arrays without holes and plain objects of those, met once each, with no
 * Date and no key superjson refuses (superjson-form's fast path writes exactly these unchanged).
 */
function plainJson(value: unknown, depth: number): boolean {
  if (typeof value !== 'object') return plainScalar(value)
  if (value === null) return true
  if (depth >= MAX_NESTING_DEPTH || !met.first(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype === Array.prototype) {
    const array = value as unknown[]
    // A hole reads as undefined, which is not JSON.
    for (let index = 0; index < array.length; index++) if (!plainJson(array[index], depth + 1)) return false
    return true
  }
  if (prototype !== Object.prototype && prototype !== null) return false
  for (const key in value)
    if (isForbiddenKey(key) || !plainJson((value as Record<string, unknown>)[key], depth + 1)) return false
  return true
}

/**
 * Appends the leaves of `value` to `row` in `template`'s order, a Date as its ISO string, if its
 * superjson form would give the same row (see rowOf); false (with `row` partly filled) if not or
 * in doubt. The template's Dates were noted at plain paths in its order, so a value with the same
 * keys and Dates at the same leaves has its Dates noted alike; and its keys are none superjson
 * refuses, since superjson made no form with one.
 */
function fillFromValue(value: unknown, template: Template, row: unknown[], depth: number): boolean {
  if (!isPlainObject(value) || !met.first(value) || !hasKeysOf(value, template)) return false
  for (let index = 0; index < template.length; index += 2) {
    const child = template[index + 1]
    const item = value[template[index] as string]
    if (child === JSON_VALUE) {
      if (!plainJson(item, depth + 1)) return false
      row.push(item)
    } else if (child === DATE) {
      if (!plainDate(item)) return false
      row.push(isoString(item))
    } else if (!fillFromValue(item, child as Template, row, depth + 1)) return false
  }
  return true
}

/** The row of `message` under the first of `shapes` it fits, written from its values. */
function rowOfValue(message: unknown, shapes: readonly TextShape[]): unknown[] | undefined {
  if (writingRow) return undefined
  writingRow = true
  try {
    for (let shape = 0; shape < shapes.length; shape++) {
      const row: unknown[] = [shape]
      const fits = fillFromValue(message, (shapes[shape] as TextShape).template, row, 0)
      met.clear()
      if (fits) return row
    }
    return undefined
  } finally {
    met.clear()
    writingRow = false
  }
}

/**
 * A batch's messages as rows beside templates when at least one has a shape, else as their
 * superjson forms (`formOf` gives a message's). A message that fits a template already made is
 * written from its values (see fillFromValue); the others from their forms.
 */
export function packTextBatch(
  messages: readonly unknown[],
  formOf: (message: unknown) => SuperjsonForm,
): PackedTextBatch {
  const shapes: TextShape[] = []
  const rows = new Array<unknown>(messages.length)
  let shaped = 0
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]
    let row = rowOfValue(message, shapes)
    if (row === undefined) {
      const form = formOf(message)
      row = rowOfForm(form, shapes)
      rows[index] = row ?? [UNSHAPED, form]
    } else rows[index] = row
    if (row !== undefined) shaped++
  }
  if (shaped > 0) return { msgs: rows, shapes: shapes.map((shape) => shape.template) }
  // Every message took the path through its form, and none fits a template: the forms go as they are.
  return { msgs: rows.map((row) => (row as unknown[])[1]) }
}

/** Where the next value of the row being built is. */
let valueAt = 0

/** The object `template` stands for with the row's values; a Date leaf that is no string throws. */
function build(template: Template, row: unknown[]): Record<string, unknown> {
  const value: Record<string, unknown> = {}
  for (let index = 0; index < template.length; index += 2) {
    const child = template[index + 1]
    if (child === JSON_VALUE) value[template[index] as string] = row[valueAt++]
    else if (child === DATE) {
      const text = row[valueAt++]
      if (typeof text !== 'string') throw new TypeError('a Date is written as an ISO string')
      value[template[index] as string] = dateFromIso(text)
    } else value[template[index] as string] = build(child as Template, row)
  }
  return value
}

/**
 * Turns the rows of `msgs` back into messages, in place, with the templates `shapes`; a row
 * `[-1, form]` is read by `fromForm`. Returns why the rows cannot be read, if a template or a row
 * is malformed (see unpackRows).
 */
export function unpackTextBatch(
  msgs: unknown[],
  shapes: unknown,
  fromForm: RowReader['unshaped'],
): string | undefined {
  return unpackRows(msgs, shapes, {
    leaves: [JSON_VALUE, DATE],
    head: 1,
    form: '[shape, …values] or [-1, superjson form]',
    build(template, row) {
      valueAt = 1
      return build(template, row)
    },
    unshaped: fromForm,
  })
}
