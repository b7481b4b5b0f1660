/**
 * Frame batches on each carrier. Over ports a batch is an array of frames, passed by structured
 * clone, the messages of batched frames (`pubs`, `dlvs`) packed as tuples (see message-tuple), or
 * as rows beside templates of their data's shapes where the peer reads those (see message-shapes).
 * Over text (WebSocket) it is a JSON array whose rich fields (see RICH_FIELDS) are in superjson's
 * form (see superjson-form), so Date, Map, Set and BigInt survive; a delivered message is
 * serialized once however many endpoints it goes to at once. Batches over text may travel as rows
 * beside templates too, standing for those forms exactly (see text-shapes).
 */
import { packBatch, unpackBatch } from './message-shapes.js'
import { packMessage, unpackMessage } from './message-tuple.js'
import type { PortCarrier } from './port.js'
import { fromSuperjsonForm, type SuperjsonForm, toSuperjsonForm } from './superjson-form.js'
import { packTextBatch, unpackTextBatch } from './text-shapes.js'
import { type Frame, MAX_BATCH, RICH_FIELDS } from './wire.js'

/** An inbound frame that could not be decoded; it is answered with an error frame. */
export class UndecodableFrame {
  constructor(readonly reason: string) {}
}

export interface Codec {
  /**
   * Messages one unit carries at most (batched frames are filled up to it, units split at it).
   * Text units stay small enough for V8's young generation: a unit of a few thousand messages is
   * megabytes of string, allocated and freed in the large-object space, whose fresh pages cost
   * more to touch than the encoding itself.
   */
  readonly maxMessagesPerUnit: number
  encode(frames: readonly Frame[]): unknown
  /**
   * Splits one inbound unit into frame candidates (validated afterwards). A unit that is not a
   * batch at all yields a single UndecodableFrame.
   */
  decode(unit: unknown): unknown[]
}

const MAX_FRAMES_PER_BATCH = 65_536

function tooMany(count: number): UndecodableFrame {
  return new UndecodableFrame(`a batch holds at most ${MAX_FRAMES_PER_BATCH} frames (got ${count})`)
}

/** Whether `frame` is a batch whose messages travel packed over ports (see message-tuple). */
function isBatch(frame: unknown): frame is { t: 'pubs' | 'dlvs'; msgs: unknown[] } {
  if (typeof frame !== 'object' || frame === null) return false
  const { t, msgs } = frame as { t?: unknown; msgs?: unknown }
  return (t === 'pubs' || t === 'dlvs') && Array.isArray(msgs) && msgs.length <= MAX_BATCH
}

function tuplesBatch(frame: Frame): Frame {
  if (!isBatch(frame)) return frame
  const { msgs } = frame
  const packed = new Array<unknown>(msgs.length)
  for (let index = 0; index < msgs.length; index++) packed[index] = packMessage(msgs[index])
  return { ...frame, msgs: packed } as Frame
}

/** A batch of two messages or more as rows and templates (see message-shapes), a lone one as a tuple. */
function shapedBatch(frame: Frame): Frame {
  if (!isBatch(frame) || frame.msgs.length < 2) return tuplesBatch(frame)
  return { ...frame, ...packBatch(frame.msgs) } as Frame
}

/**
 * Whether `frame` is a batch of rows beside templates: then reads them with `unpack` (the frame
 * loses its `shapes`), or says why it cannot be read. False for any other frame.
 */
function readRows(
  frame: { t: string; msgs: unknown[]; shapes?: unknown },
  unpack: (msgs: unknown[], shapes: unknown) => string | undefined,
): boolean | UndecodableFrame {
  if (!Object.hasOwn(frame, 'shapes')) return false
  const problem = unpack(frame.msgs, frame.shapes)
  if (problem !== undefined) return new UndecodableFrame(`invalid frame '${frame.t}': ${problem}`)
  delete frame.shapes
  return true
}

/**
 * Decodes a unit over ports in place: the messages of each batch back from tuples, or from rows with
 * the batch's `shapes`; a batch whose rows or templates are malformed becomes an UndecodableFrame
 * saying why.
 */
function decodeCloneUnit(unit: unknown): unknown[] {
  if (!Array.isArray(unit)) return [new UndecodableFrame('a unit must be an array of frames')]
  if (unit.length > MAX_FRAMES_PER_BATCH) return [tooMany(unit.length)]
  for (let index = 0; index < unit.length; index++) {
    const frame: unknown = unit[index]
    if (!isBatch(frame)) continue
    const rows = readRows(frame, unpackBatch)
    if (rows instanceof UndecodableFrame) unit[index] = rows
    else if (!rows)
      for (let at = 0; at < frame.msgs.length; at++) frame.msgs[at] = unpackMessage(frame.msgs[at])
  }
  return unit
}

/** Over ports, to a peer that reads only tuples: every message of a batch packed as one. */
export const cloneCodec: Codec = {
  maxMessagesPerUnit: MAX_BATCH,
  encode: (frames) => frames.map(tuplesBatch),
  decode: decodeCloneUnit,
}

/** Over ports, to a peer that reads templates (the hub, the endpoint client): batches as rows. */
export const shapedCloneCodec: Codec = {
  maxMessagesPerUnit: MAX_BATCH,
  encode: (frames) => frames.map(shapedBatch),
  decode: decodeCloneUnit,
}

/**
 * The superjson form of each message delivered in the current microtask checkpoint: the hub
 * encodes a message once however many text endpoints it goes to at once (every session's frames
 * of one routing flush are encoded in the same checkpoint). Publishes are encoded once anyway.
 * A form shares the message's data (handlers treat it as read-only).
 *
 * A fresh Map each checkpoint rather than one WeakMap for the process's life: Node 20's scavenger
 * keeps the young keys of a WeakMap in the old generation alive, with their values, until a full
 * collection. Every delivered message and its form survived each scavenge and most were promoted:
 * at 10 k msg/s over WebSocket the hub promoted ~370 KB a scavenge, against ~100 KB with this Map,
 * and ran twice as many full collections (23–27 against 12 a minute). The Map, dropped at the end
 * of the checkpoint, dies young with what it holds (test/shared/text-codec-forms.test.ts).
 */
let formsThisCheckpoint: Map<object, SuperjsonForm> | undefined
const forgetForms = (): void => {
  formsThisCheckpoint = undefined
}

function deliveryForm(message: unknown): SuperjsonForm {
  if (typeof message !== 'object' || message === null) return toSuperjsonForm(message)
  if (formsThisCheckpoint === undefined) {
    formsThisCheckpoint = new Map()
    queueMicrotask(forgetForms)
  }
  let form = formsThisCheckpoint.get(message)
  if (form === undefined) {
    form = toSuperjsonForm(message)
    if (Object.isFrozen(message)) formsThisCheckpoint.set(message, form)
  }
  return form
}

/** The frame with its rich fields in superjson form, ready for one JSON.stringify of the unit. */
function textForm(frame: Frame): Frame | Record<string, unknown> {
  const formOf = frame.t === 'dlv' || frame.t === 'dlvs' ? deliveryForm : toSuperjsonForm
  let form: Record<string, unknown> | undefined
  for (const field of RICH_FIELDS) {
    if (!(field in frame)) continue
    form ??= { ...frame }
    const value = form[field]
    form[field] = field === 'msgs' && Array.isArray(value) ? value.map(formOf) : formOf(value)
  }
  return form ?? frame
}

function isSuperjsonResult(value: unknown): value is SuperjsonForm {
  return typeof value === 'object' && value !== null && 'json' in value
}

function deserialize(field: string, value: unknown): unknown {
  if (!isSuperjsonResult(value)) {
    return new UndecodableFrame(`${field} must be a superjson value { json, meta? }`)
  }
  try {
    return fromSuperjsonForm(value)
  } catch (error) {
    return new UndecodableFrame(`${field} is not valid superjson: ${(error as Error).message}`)
  }
}

/** A batch over text as rows beside templates (see text-shapes) when its messages have shapes. */
function shapedTextForm(frame: Frame): Frame | Record<string, unknown> {
  if (!isBatch(frame) || frame.msgs.length < 2) return textForm(frame)
  return { ...frame, ...packTextBatch(frame.msgs, frame.t === 'dlvs' ? deliveryForm : toSuperjsonForm) }
}

function readForm(form: unknown, index: number): { value: unknown } | { problem: string } {
  const message = deserialize(`msgs.${index}`, form)
  return message instanceof UndecodableFrame ? { problem: message.reason } : { value: message }
}

function decodeTextFrame(candidate: unknown): unknown {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return candidate
  const frame = candidate as Record<string, unknown>
  const rows =
    isBatch(candidate) && readRows(candidate, (msgs, shapes) => unpackTextBatch(msgs, shapes, readForm))
  if (rows instanceof UndecodableFrame) return rows
  for (const field of RICH_FIELDS) {
    if (!Object.hasOwn(frame, field) || (rows && field === 'msgs')) continue
    const value = frame[field]
    if (field === 'msgs') {
      if (!Array.isArray(value)) return new UndecodableFrame('msgs must be an array of superjson values')
      for (let index = 0; index < value.length; index++) {
        const message = deserialize(`msgs.${index}`, value[index])
        if (message instanceof UndecodableFrame) return message
        value[index] = message
      }
      continue
    }
    const decoded = deserialize(field, value)
    if (decoded instanceof UndecodableFrame) return decoded
    frame[field] = decoded
  }
  return frame
}

/** Reads a unit of text, batches as superjson forms or as rows beside templates alike. */
function decodeTextUnit(unit: unknown): unknown[] {
  if (typeof unit !== 'string') return [new UndecodableFrame('a text unit must be valid UTF-8 JSON text')]
  let parsed: unknown
  try {
    parsed = JSON.parse(unit)
  } catch (error) {
    return [new UndecodableFrame(`not JSON: ${(error as Error).message}`)]
  }
  if (!Array.isArray(parsed)) return [new UndecodableFrame('a unit must be a JSON array of frames')]
  if (parsed.length > MAX_FRAMES_PER_BATCH) return [tooMany(parsed.length)]
  return parsed.map(decodeTextFrame)
}

/** 64 messages of ~450 characters are ~57 KB as UTF-16, within V8's young generation. */
const TEXT_MESSAGES_PER_UNIT = 64

/** Over text, to a peer that reads only superjson forms: a form a message. */
export const textCodec: Codec = {
  maxMessagesPerUnit: TEXT_MESSAGES_PER_UNIT,
  encode: (frames) => JSON.stringify(frames.map(textForm)),
  decode: decodeTextUnit,
}

/** Over text, to a peer that reads templates (the hub, the endpoint client): batches as rows. */
export const shapedTextCodec: Codec = {
  maxMessagesPerUnit: TEXT_MESSAGES_PER_UNIT,
  encode: (frames) => JSON.stringify(frames.map(shapedTextForm)),
  decode: decodeTextUnit,
}

/**
 * The codec for `carrier`; `shapes` says the peer reads batches as rows and templates. Every codec
 * reads both forms.
 */
export function codecFor(carrier: PortCarrier, shapes = false): Codec {
  if (carrier === 'text') return shapes ? shapedTextCodec : textCodec
  return shapes ? shapedCloneCodec : cloneCodec
}
