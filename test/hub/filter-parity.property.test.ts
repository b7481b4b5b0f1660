/**
 * Parity of filters: a subscription at an endpoint receives exactly the messages the same
 * subscription receives in process, for generated declarative filters (types, sources, minimum
 * priority) and messages of several types and priorities, through the hub, over a direct route
 * (which serves the subscription only where its filter lets it) and over WebSocket.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type Envelope,
  type EventBus,
  MessagePayload,
  type MessagePriority,
  ModuleId,
  type PlainFilter,
} from '../../src/main/bus/index.js'
import type { BusClient } from '../../src/shared/index.js'
import { rawEvent, validData, waitFor } from '../helpers.js'
import { captureToStorage, connectClient, startHub, untilActive } from './fixture.js'
import { overWebSocket } from './websocket-client.js'

const TYPES = ['RawEvent', 'HealthCheck', 'StateChange'] as const
const SOURCES = [ModuleId.DataCapture, ModuleId.Storage, ModuleId.AnalysisEngine]

const filter: fc.Arbitrary<PlainFilter> = fc.record(
  {
    types: fc.uniqueArray(fc.constantFrom(...TYPES), { maxLength: 3 }),
    sources: fc.uniqueArray(fc.constantFrom(...SOURCES), { maxLength: 3 }),
    minPriority: fc.integer({ min: 0, max: 3 }) as fc.Arbitrary<MessagePriority>,
  },
  { requiredKeys: [] },
)

const publication = fc.record({ type: fc.constantFrom(...TYPES), priority: fc.integer({ min: 0, max: 3 }) })
type Publication = typeof publication extends fc.Arbitrary<infer P> ? P : never

function message({ type, priority }: Publication, index: number): Envelope {
  const payload =
    type === 'RawEvent'
      ? MessagePayload.RawEvent(rawEvent({ eventType: `m${index}` }))
      : type === 'HealthCheck'
        ? MessagePayload.HealthCheck({ ...validData.HealthCheck(), moduleId: `m${index}` })
        : MessagePayload.StateChange({ ...validData.StateChange(), transitionFrom: `m${index}` })
  return BusMessage.withPriority(ModuleId.DataCapture, payload, priority as MessagePriority)
}

/** Which published message a delivery is (its index, written into the payload). */
function indexOf(delivered: Envelope): string {
  const data = delivered.payload.data as { eventType?: string; moduleId?: string; transitionFrom?: string }
  return (
    data.eventType ?? (delivered.payload.type === 'HealthCheck' ? data.moduleId : data.transitionFrom) ?? '?'
  )
}

/**
 * Subscribes with `f` at `subscriber`, waits for `ready`, publishes every message with
 * `publisher`, then a marker every subscriber gets through a catch-all subscription of its own;
 * once the marker and at least `expected` deliveries arrived (and a moment more, for any extra
 * one), returns which messages the filtered subscription got.
 */
async function delivered(
  subscriber: Pick<EventBus, 'subscribe'> | BusClient,
  publisher: Pick<EventBus, 'publish'>,
  f: PlainFilter,
  publications: Publication[],
  { ready = async () => {}, expected = 0 } = {},
) {
  const seen: string[] = []
  let marked = false
  const reliable = DeliveryMode.Reliable({ timeoutMs: 1_000 })
  await subscriber.subscribe(ModuleId.Storage, f, reliable, (m: Envelope) => {
    seen.push(indexOf(m))
  })
  await subscriber.subscribe(ModuleId.Storage, { types: ['AnimationCommand'] }, reliable, () => {
    marked = true
  })
  await ready()
  for (const [index, p] of publications.entries()) await publisher.publish(message(p, index) as never)
  const marker = MessagePayload.AnimationCommand(validData.AnimationCommand())
  await publisher.publish(BusMessage.create(ModuleId.DataCapture, marker) as never)
  await waitFor(() => marked && seen.length >= expected)
  await new Promise((resolve) => setTimeout(resolve, 20))
  return seen.sort()
}

describe('filters at an endpoint and in process', () => {
  it('let through the same messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        filter,
        fc.array(publication, { minLength: 1, maxLength: 12 }),
        fc.constantFrom('hub', 'direct', 'websocket'),
        async (f, publications, path) => {
          const local = createEventBus()
          await local.start()
          const expected = await delivered(local, local, f, publications)
          await local.shutdown({ drainTimeoutMs: 0 })

          const { hub } = await startHub()
          const route = path === 'direct' ? captureToStorage(hub, [...TYPES, 'AnimationCommand']) : undefined
          const storage =
            path === 'websocket'
              ? await overWebSocket(hub, ModuleId.Storage)
              : await connectClient(hub, ModuleId.Storage)
          const capture = await connectClient(hub, ModuleId.DataCapture)
          const actual = await delivered(storage, capture, f, publications, {
            ready: async () => {
              if (route !== undefined) await untilActive(route)
            },
            expected: expected.length,
          })
          expect(actual).toEqual(expected)
        },
      ),
      { numRuns: 60 },
    )
  }, 120_000)
})
