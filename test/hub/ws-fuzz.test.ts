/**
 * Fuzzing over a real WebSocket: generated text and binary units (garbage, random frames, huge and
 * deeply nested values, prototype-pollution keys, cyclic superjson references, invalid UTF-8) get
 * error frames; the hub never throws, and a good client keeps working throughout.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  BusMessage,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'
import { connectBus, fromWebSocket } from '../../src/shared/index.js'
import { busMetricsSchema } from '../../src/shared/metrics-snapshot.js'
import { rawEvent, waitFor } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'

const frameLike = fc.record({
  t: fc.constantFrom(
    'hello',
    'pub',
    'sub',
    'unsub',
    'ack',
    'nack',
    'dlq',
    'stream',
    'ping',
    'bye',
    'constructor',
    '__proto__',
  ),
  rid: fc.oneof(fc.nat(), fc.string(), fc.constant(-1)),
  msg: fc.oneof(
    fc.jsonValue(),
    fc.constant({ json: { a: {} }, meta: { referentialEqualities: { a: ['a.b', 'a.b.c'] } } }),
    fc.constant({ json: { x: 1 }, meta: { values: { '__proto__.polluted': ['Date'] } } }),
    fc.constant({ json: '2026-01-01', meta: { values: ['bigint'] } }),
  ),
  ids: fc.array(fc.oneof(fc.nat(), fc.string())),
})

const textUnit = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.array(frameLike, { maxLength: 8 }).map((frames) => JSON.stringify(frames)),
  fc.constant(`[${'['.repeat(5000)}${']'.repeat(5000)}]`),
  fc.constant(JSON.stringify([{ t: 'pub', rid: 1, msg: { json: { ['__proto__']: { polluted: true } } } }])),
  fc.constant(`[{"t":"pub","rid":2,"msg":{"json":"${'x'.repeat(200_000)}"}}]`),
)
const binaryUnit = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((bytes) => Buffer.from([0xff, ...bytes]))

describe('WebSocket fuzzing', () => {
  it('answers generated garbage with error frames while a good client keeps working', async () => {
    const { bus, hub } = await startHub()
    const gateway = await startGateway(hub, {
      modules: [
        { module: 'fuzzer', permissions: { publish: '*', subscribe: '*' } },
        { module: ModuleId.DataCapture, permissions: { publish: ['RawEvent'], subscribe: [] } },
      ],
      maxMessagesPerSecond: 100_000,
    })
    afterThisTest(() => gateway.close())
    const seen: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      seen.push(m.payload.data.eventType)
    })
    const good = await connectBus(
      fromWebSocket(
        new WebSocket(gateway.url, {
          headers: { authorization: `Bearer ${gateway.tokenFor(ModuleId.DataCapture)}` },
        }),
      ),
    )
    afterThisTest(() => good.close())
    const fuzzer = new WebSocket(gateway.url, {
      headers: { authorization: `Bearer ${gateway.tokenFor('fuzzer')}` },
    })
    afterThisTest(() => fuzzer.terminate())
    let errorFrames = 0
    fuzzer.on('message', (data) => {
      const frames = JSON.parse(data.toString()) as { t: string }[]
      errorFrames += frames.filter((f) => f.t === 'err').length
    })
    await new Promise((resolve) => fuzzer.once('open', resolve))
    fuzzer.send(JSON.stringify([{ t: 'hello', v: 1 }]))

    let rounds = 0
    await fc.assert(
      fc.asyncProperty(fc.oneof(textUnit, binaryUnit), async (unit) => {
        fuzzer.send(unit)
        rounds++
        await good.publish(
          BusMessage.create(
            ModuleId.DataCapture,
            MessagePayload.RawEvent(rawEvent({ eventType: `r${rounds}` })),
          ),
        )
      }),
      { numRuns: 200 },
    )
    await waitFor(() => seen.length === rounds)
    expect(errorFrames).toBeGreaterThan(50)
    expect(fuzzer.readyState).toBe(WebSocket.OPEN)
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    // Whatever the fuzzer sent, the metrics are still what the inspector expects.
    const checked = busMetricsSchema.safeParse(await bus.metrics())
    expect(checked.success ? [] : checked.error.issues).toEqual([])
  }, 60_000)
})
