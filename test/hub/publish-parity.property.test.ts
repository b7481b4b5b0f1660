/**
 * Parity of publishing: a message published at an endpoint is accepted or refused as the bus
 * refuses it in process (the same error kind), and an accepted one reaches a subscriber with the
 * same content, whichever way the publisher is attached. Messages are a valid RawEvent with
 * generated changes: a field replaced by any value (Dates, Maps, Sets, BigInts, nulls, deep or
 * odd objects), a field deleted, or a key added.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { moduleIdPattern } from '../../src/shared/catalog.js'
import { anyValue, rawEvent, waitFor } from '../helpers.js'
import { captureToStorage, connectClient, startHub, untilActive } from './fixture.js'
import { overWebSocket } from './websocket-client.js'

const FIELDS = [
  'id',
  'timestamp',
  'source',
  'priority',
  'correlationId',
  'payload',
  'payload.type',
  'payload.data',
  'payload.data.eventType',
  'payload.data.data',
  'payload.data.windowTitle',
  'payload.data.timestamp',
] as const

const change = fc.record({
  field: fc.constantFrom(...FIELDS),
  to: fc.oneof(fc.constant({ deleted: true as const }), fc.record({ value: anyValue })),
  /** A key added to the object the field is in, beside the change. */
  extraKey: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
})
type Change = typeof change extends fc.Arbitrary<infer C> ? C : never

/** A valid message: each run publishes copies of one, so both sides see the same id and times. */
const validMessage = () =>
  BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ eventType: 'x' })))

/** A copy of `valid` with `c` applied (copies, so no two publishes share objects). */
function messageWith(valid: object, c: Change): unknown {
  const message = structuredClone(valid) as Record<string, unknown>
  const path = c.field.split('.')
  const key = path.pop() as string
  let parent: Record<string, unknown> = message
  for (const step of path) parent = parent[step] as Record<string, unknown>
  if ('deleted' in c.to) delete parent[key]
  else parent[key] = structuredClone(c.to.value)
  if (c.extraKey !== undefined) parent[c.extraKey] = 1
  return message
}

type Outcome = { accepted: true; delivered: unknown } | { accepted: false; kind: string }

async function outcome(publish: () => Promise<unknown>, delivered: unknown[]): Promise<Outcome> {
  const kind = await publish().then(
    () => undefined,
    (error: { kind?: string }) => error.kind ?? 'plain error',
  )
  if (kind !== undefined) return { accepted: false, kind }
  await waitFor(() => delivered.length > 0)
  return { accepted: true, delivered: delivered[0] }
}

async function inProcess(valid: object, c: Change): Promise<Outcome> {
  const bus = createEventBus()
  await bus.start()
  const delivered: unknown[] = []
  await bus.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.BestEffort, (m) => {
    delivered.push(m)
  })
  try {
    return await outcome(() => bus.publish(messageWith(valid, c) as never), delivered)
  } finally {
    await bus.shutdown({ drainTimeoutMs: 0 })
  }
}

async function fromEndpoint(
  valid: object,
  c: Change,
  path: 'hub' | 'direct' | 'websocket',
): Promise<Outcome> {
  const { hub } = await startHub()
  const route = path === 'direct' ? captureToStorage(hub) : undefined
  const storage = await connectClient(hub, ModuleId.Storage)
  const delivered: unknown[] = []
  await storage.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.BestEffort, (m) => {
    delivered.push(m)
  })
  const capture =
    path === 'websocket'
      ? await overWebSocket(hub, ModuleId.DataCapture)
      : await connectClient(hub, ModuleId.DataCapture)
  if (route !== undefined) await untilActive(route)
  return outcome(() => capture.publish(messageWith(valid, c) as never), delivered)
}

describe('publishing at an endpoint and in process', () => {
  it('accepts and refuses the same messages, and delivers the same content', async () => {
    await fc.assert(
      fc.asyncProperty(change, fc.constantFrom('hub', 'direct', 'websocket'), async (c, path) => {
        const valid = validMessage()
        const expected = await inProcess(valid, c)
        const actual = await fromEndpoint(valid, c, path)
        // The one intended difference: an endpoint may publish only as itself. A source that is no
        // module id at all claims no one: it is refused as in process, as a malformed message.
        const { source } = messageWith(valid, c) as { source?: unknown }
        const claimsAnother =
          typeof source === 'string' && source !== ModuleId.DataCapture && moduleIdPattern.test(source)
        if (claimsAnother) expect(actual).toEqual({ accepted: false, kind: 'Unauthorized' })
        else expect(actual).toEqual(expected)
      }),
      {
        numRuns: 100,
        // Every path sees a source that is another module's, one that is no module id and one that is no string.
        examples: (['hub', 'direct', 'websocket'] as const).flatMap((path) =>
          ['storage', 'Not A Module', 42].map((value): [Change, typeof path] => [
            { field: 'source', to: { value }, extraKey: undefined },
            path,
          ]),
        ),
      },
    )
  }, 120_000)
})
