/**
 * The one error class of the bus, with a discriminant `kind` and typed fields per kind. Its data
 * is plain, so the same error can be rebuilt on the far side of a port (`EventBusError.fromData`).
 */
import { z } from 'zod'

/** One issue of a rejected message, as zod reports it (path and message). */
export const rejectionIssueSchema = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
  code: z.string().optional(),
})
/** One issue of a rejected message: where (`path`) and what (`message`, zod's `code`). */
export type RejectionIssue = z.infer<typeof rejectionIssueSchema>

/**
 * The first of zod's issues as `subject.path: message` (the subject alone when the whole value is
 * wrong), for a `Configuration` or `InvalidFilter` reason.
 */
export function firstIssue(error: z.ZodError, subject: string): string {
  const issue = error.issues[0]
  const field = issue?.path.join('.')
  return `${subject}${field ? `.${field}` : ''}: ${issue?.message ?? 'invalid'}`
}

/**
 * The first of zod's issues as `path: message`, with `whole` for the path when the whole value is
 * wrong: for a reason whose subject is already said around it.
 */
export function issueAt(error: z.ZodError, whole: string): string {
  const issue = error.issues[0]
  return `${issue?.path.join('.') || whole}: ${issue?.message ?? 'invalid'}`
}

/** zod's issues as a `MessageRejected` error carries them (symbol keys left out: they cannot travel). */
export function toRejectionIssues(error: z.ZodError): RejectionIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.filter((key): key is string | number => typeof key !== 'symbol'),
    message: issue.message,
    code: issue.code,
  }))
}

const unauthorizedActionSchema = z.enum(['publish', 'subscribe', 'inspect', 'source', 'attach'])

/** Every error kind with its fields; the wire codec validates inbound errors against this. */
export const eventBusErrorDataSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('QueueFull'), currentSize: z.number(), maxSize: z.number() }),
  z.object({ kind: z.literal('SubscriberUnavailable'), subscriber: z.string(), retryAfterMs: z.number() }),
  z.object({ kind: z.literal('DeliveryTimeout'), elapsedMs: z.number() }),
  z.object({ kind: z.literal('BusShuttingDown') }),
  z.object({ kind: z.literal('NotStarted') }),
  z.object({ kind: z.literal('SubscriptionNotFound'), subscriptionId: z.string() }),
  z.object({ kind: z.literal('MessageRejected'), reason: z.string(), issues: z.array(rejectionIssueSchema) }),
  z.object({ kind: z.literal('InvalidFilter'), reason: z.string() }),
  z.object({
    kind: z.literal('Unauthorized'),
    module: z.string(),
    action: unauthorizedActionSchema,
    type: z.string().optional(),
  }),
  z.object({ kind: z.literal('Disconnected'), reason: z.string().optional() }),
  z.object({ kind: z.literal('Configuration'), reason: z.string() }),
])
/** An error's `kind` and typed fields, plain, so it crosses ports, sockets and the context bridge. */
export type EventBusErrorData = z.infer<typeof eventBusErrorDataSchema>
/** Every kind of `EventBusError`, from `QueueFull` to `Configuration`. */
export type EventBusErrorKind = EventBusErrorData['kind']
type DataOfKind<K extends EventBusErrorKind> = Omit<Extract<EventBusErrorData, { kind: K }>, 'kind'>

function explain(data: EventBusErrorData): string {
  switch (data.kind) {
    case 'QueueFull':
      return `QueueFull: a subscriber's queue holds ${data.currentSize} of ${data.maxSize} messages; slow down or retry later`
    case 'SubscriberUnavailable':
      return `SubscriberUnavailable: '${data.subscriber}' is not attached; retry after ${data.retryAfterMs} ms`
    case 'DeliveryTimeout':
      return `DeliveryTimeout: the handler did not settle within ${data.elapsedMs} ms; make it faster or raise the timeout`
    case 'BusShuttingDown':
      return 'BusShuttingDown: the bus is shutting down and accepts no new work'
    case 'NotStarted':
      return 'NotStarted: call bus.start() before publishing'
    case 'SubscriptionNotFound':
      return `SubscriptionNotFound: no subscription '${data.subscriptionId}' (already unsubscribed?)`
    case 'MessageRejected': {
      const detail = data.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
        .join('; ')
      return `MessageRejected: ${data.reason}${detail ? ` (${detail})` : ''}`
    }
    case 'InvalidFilter':
      return `InvalidFilter: ${data.reason}`
    case 'Unauthorized':
      return explainUnauthorized(data)
    case 'Disconnected':
      return `Disconnected: the connection to the hub is closed${data.reason ? ` (${data.reason})` : ''}`
    case 'Configuration':
      return `Configuration: ${data.reason}`
  }
}

/**
 * Only `inspect` and a publish or subscribe of a named type are grants; the advice differs for the
 * rest. A publish or subscribe refused without a type was asked as someone else (a subscription
 * under another module's name, a frame on a channel the endpoint is not that end of), which no
 * grant mends.
 */
function explainUnauthorized(data: DataOfKind<'Unauthorized'>): string {
  const { module, action, type } = data
  switch (action) {
    case 'source':
      return `Unauthorized: module '${module}' may publish only as itself: a message's source must be '${module}'${type ? ` (this '${type}' named another module)` : ''}`
    case 'attach':
      return `Unauthorized: the attachment as '${module}' was refused`
    case 'inspect':
      return `Unauthorized: module '${module}' may not inspect the bus; grant it in the attachment's permissions`
    default:
      return type === undefined
        ? `Unauthorized: module '${module}' may ${action} only as itself, not as another module nor on a channel it is not that end of`
        : `Unauthorized: module '${module}' may not ${action} '${type}'; grant it in the attachment's permissions`
  }
}

class EventBusErrorClass extends Error {
  readonly kind: EventBusErrorKind

  constructor(data: EventBusErrorData, message: string = explain(data)) {
    super(message)
    this.name = 'EventBusError'
    this.kind = data.kind
    Object.assign(this, data)
  }

  /** The plain data of this error (its kind and fields), safe to send across a port. */
  toData(): EventBusErrorData {
    const {
      name: _name,
      message: _message,
      stack: _stack,
      ...data
    } = this as unknown as Record<string, unknown>
    return data as EventBusErrorData
  }
}

/** An error of the bus: narrow on `kind` to read that kind's fields. */
export type EventBusError = EventBusErrorClass & EventBusErrorData

interface EventBusErrorConstructor {
  new (data: EventBusErrorData, message?: string): EventBusError
  readonly prototype: EventBusError
  /** Rebuilds an error from its plain data (as sent across a port), keeping its message. */
  fromData(data: EventBusErrorData, message?: string): EventBusError
  /** Shorthand: `EventBusError.of('QueueFull', { currentSize, maxSize })`. */
  of<K extends EventBusErrorKind>(kind: K, fields: DataOfKind<K>): EventBusError
}

/** The bus's error class; `err instanceof EventBusError` works in every runtime. */
export const EventBusError = EventBusErrorClass as unknown as EventBusErrorConstructor
Object.assign(EventBusError, {
  fromData: (data: EventBusErrorData, message?: string) => new EventBusError(data, message),
  of: (kind: EventBusErrorKind, fields: object) =>
    new EventBusError({ kind, ...fields } as EventBusErrorData),
})

/** Whether `err` is an {@link EventBusError}, optionally of the given kind. */
export function isEventBusError<K extends EventBusErrorKind>(
  err: unknown,
  kind?: K,
): err is EventBusError & { kind: K } {
  return err instanceof EventBusErrorClass && (kind === undefined || err.kind === kind)
}

/** True for errors that may succeed if tried again later: QueueFull, SubscriberUnavailable, DeliveryTimeout. */
export function isRecoverable(err: unknown): boolean {
  return (
    err instanceof EventBusErrorClass &&
    (err.kind === 'QueueFull' || err.kind === 'SubscriberUnavailable' || err.kind === 'DeliveryTimeout')
  )
}

/** What kind of value `value` is, as an error names what it got: its `typeof`, with null as null. */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value
}

/** What {@link describeValue} says of a value that throws when read as text. */
const CANNOT_DESCRIBE = 'a value that cannot be described (reading it as text threw)'

/**
 * `value` as an error message quotes it: its JSON where it has one, else what `String` makes of it
 * (a BigInt, a symbol, a circular object). Never throws: it describes what was refused, and a
 * value whose `toJSON` and `toString` both throw gets a fixed text rather than an error of its own.
 */
export function describeValue(value: unknown): string {
  try {
    // undefined for what JSON has no text for (a symbol, a function, undefined): said by String below.
    const json = JSON.stringify(value)
    if (json !== undefined) return json
  } catch {
    // Circular, a BigInt inside, a throwing toJSON or getter: String may still say it.
  }
  try {
    return String(value)
  } catch {
    return CANNOT_DESCRIBE
  }
}

/**
 * "Name: message" for anything thrown, as dead letters and nacks record it. Never throws itself: it
 * runs where a handler, a predicate or a getter failed, and a value whose `toJSON` and `toString`
 * both throw (or an Error whose `name` getter does) must still be recorded, not end the bus's pump
 * with an uncaught error and leave the message neither delivered nor dead-lettered.
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`
  } catch {
    // An Error whose name or message cannot be read: its JSON would be a bare {}.
    return `Thrown: ${CANNOT_DESCRIBE}`
  }
  return `Thrown: ${typeof thrown === 'string' ? thrown : describeValue(thrown)}`
}
