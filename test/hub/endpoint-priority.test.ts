/**
 * Priority at an endpoint: the hub keeps a window of deliveries unacknowledged at an endpoint, which
 * runs `workers` handlers at once and keeps the rest waiting. Among the messages waiting there,
 * higher priority goes first, as in the hub's own queues (BUS-API: "among the messages pending at
 * the same moment, higher priority goes first"), over the hub path and over a direct route alike.
 */
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  DeliveryMode,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import { DIRECT_WINDOW } from '../../src/main/hub/route.js'
import { rawMessage, validData, waitFor } from '../helpers.js'
import { captureToStorage, connectClient, startHub, untilActive } from './fixture.js'

const raw = (eventType: string, priority: MessagePriority) => rawMessage(priority, { eventType })

const marker = () =>
  BusMessage.create(ModuleId.DataCapture, MessagePayload.HealthCheck(validData.HealthCheck()))

/**
 * A Reliable RawEvent subscriber whose handler holds each message until `release()`, and a second
 * subscription (handler slots of its own) that sees markers: a marker handled means everything sent
 * before it on the same port has arrived.
 */
async function gatedStorage(hub: Hub) {
  const storage = await connectClient(hub, ModuleId.Storage)
  const started: string[] = []
  const gates: (() => void)[] = []
  let markers = 0
  await storage.subscribe(ModuleId.Storage, { types: ['HealthCheck'] }, DeliveryMode.BestEffort, () => {
    markers++
  })
  await storage.subscribe(
    ModuleId.Storage,
    { types: ['RawEvent'] },
    DeliveryMode.Reliable({ timeoutMs: 10_000 }),
    (message) => {
      started.push(message.payload.data.eventType)
      return new Promise<void>((resolve) => gates.push(resolve))
    },
  )
  /** Lets the running handler finish; resolves once the next one started, if one is expected. */
  const release = async (nextExpected: boolean) => {
    const count = started.length
    gates.shift()?.()
    if (nextExpected) await waitFor(() => started.length > count)
  }
  /** Publishes a marker with `publish` and waits until it is handled. */
  const arrived = async (publish: (message: ReturnType<typeof marker>) => Promise<unknown>) => {
    const before = markers
    await publish(marker())
    await waitFor(() => markers > before)
  }
  return { started, release, arrived }
}

/** Low 'l0' first (its handler holds the only slot), then more lows, a critical and a high. */
const BURST: [string, MessagePriority][] = [
  ['l1', MessagePriority.Low],
  ['l2', MessagePriority.Low],
  ['l3', MessagePriority.Low],
  ['c1', MessagePriority.Critical],
  ['l4', MessagePriority.Low],
  ['h1', MessagePriority.High],
  ['c2', MessagePriority.Critical],
]
const IN_PRIORITY_ORDER = ['l0', 'c1', 'c2', 'h1', 'l1', 'l2', 'l3', 'l4']

describe('priority at an endpoint', () => {
  it('runs the deliveries waiting at an endpoint highest priority first, in publish order within one', async () => {
    const { bus, hub } = await startHub({ workers: 1 })
    const storage = await gatedStorage(hub)
    await bus.publish(raw('l0', MessagePriority.Low))
    await waitFor(() => storage.started.length === 1)
    for (const [name, priority] of BURST) await bus.publish(raw(name, priority))
    // Every copy has left the hub and arrived: they all wait at the endpoint.
    await storage.arrived((message) => bus.publish(message))
    const gated = (await bus.metrics()).subscriptions.find((subscription) => subscription.mode === 'Reliable')
    expect(gated).toMatchObject({ queueDepth: 0, inFlight: BURST.length + 1 })
    for (let i = 0; i < BURST.length; i++) await storage.release(true)
    expect(storage.started).toEqual(IN_PRIORITY_ORDER)
  })

  it('does the same for copies waiting at the consumer of a direct route', async () => {
    const { hub } = await startHub({ workers: 1 })
    // The marker goes over the channel too, behind the burst.
    const route = captureToStorage(hub, ['RawEvent', 'HealthCheck'])
    const storage = await gatedStorage(hub)
    const capture = await connectClient(hub, ModuleId.DataCapture)
    await untilActive(route)
    await capture.publish(raw('l0', MessagePriority.Low))
    await waitFor(() => storage.started.length === 1)
    for (const [name, priority] of BURST) await capture.publish(raw(name, priority))
    await storage.arrived((message) => capture.publish(message))
    for (let i = 0; i < BURST.length; i++) await storage.release(true)
    expect(storage.started).toEqual(IN_PRIORITY_ORDER)
  })

  it('sends a direct route’s producer backlog highest priority first once its window has room', async () => {
    const { hub } = await startHub({ workers: 1 })
    const route = captureToStorage(hub)
    const storage = await gatedStorage(hub)
    const capture = await connectClient(hub, ModuleId.DataCapture)
    await untilActive(route)
    await capture.publish(raw('l0', MessagePriority.Low))
    await waitFor(() => storage.started.length === 1)
    // The channel's window fills; ten lows and then a critical wait at the producer, their publishes
    // unresolved until they leave.
    for (let i = 1; i < DIRECT_WINDOW + 10; i++) void capture.publish(raw(`l${i}`, MessagePriority.Low))
    const criticalLeft = capture.publish(raw('c', MessagePriority.Critical))
    // l0's ack frees one place in the window: the critical takes it, ahead of the ten lows.
    await storage.release(true)
    let left = false
    void criticalLeft.then(() => {
      left = true
    })
    await waitFor(() => left, 2_000)
    await new Promise((resolve) => setTimeout(resolve, 50)) // for it to arrive, behind 1023 lows
    await storage.release(true)
    expect(storage.started).toEqual(['l0', 'l1', 'c'])
  })

  it('does not count a delivery timed out because higher priorities overtook it at the endpoint', async () => {
    // One handler slot, 50 ms handler timeout: the hub waits for the low message's ack for its own
    // timeout (one ahead of it: two) plus a second's grace. Fifty criticals taking 40 ms each
    // overtake it at the endpoint, so it starts after 2 s and must be neither failed nor retried.
    const { bus, hub } = await startHub({ workers: 1, maxRetryAttempts: 2 })
    const storage = await connectClient(hub, ModuleId.Storage)
    const started: string[] = []
    await storage.subscribe(
      ModuleId.Storage,
      { types: ['RawEvent'] },
      DeliveryMode.Reliable({ timeoutMs: 50 }),
      async (message) => {
        const name = message.payload.data.eventType
        started.push(name)
        if (name !== 'low') await new Promise((resolve) => setTimeout(resolve, 40))
      },
    )
    await bus.publish(raw('first', MessagePriority.Critical))
    await bus.publish(raw('low', MessagePriority.Low))
    for (let i = 0; i < 50; i++) await bus.publish(raw('c', MessagePriority.Critical))
    await waitFor(
      () => started.includes('low') && started.filter((name) => name === 'c').length === 50,
      10_000,
    )
    await new Promise((resolve) => setTimeout(resolve, 300)) // a late sweep would count it now
    expect(started.filter((name) => name === 'low')).toHaveLength(1)
    expect(started.at(-1)).toBe('low')
    const [subscription] = (await bus.metrics()).subscriptions
    expect(subscription).toMatchObject({ routed: 52, delivered: 52, failed: 0, retried: 0 })
  })
})
