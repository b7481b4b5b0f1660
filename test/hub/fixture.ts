/** What hub tests share: cleanups run after each test, and a bus with a hub closed after it. */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { afterEach } from 'vitest'
import {
  BusMessage,
  type Catalog,
  createEventBus,
  type EventBus,
  type EventBusOptions,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub, type DirectRoute, type Hub, type HubOptions } from '../../src/main/hub/index.js'
import { connectBus } from '../../src/shared/index.js'
import { rawEvent, waitFor } from '../helpers.js'

type Cleanup = () => Promise<void> | void

const cleanups: Cleanup[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs each cleanup after the current test; later ones first (what was started last stops first). */
export function afterThisTest(...cleanup: Cleanup[]): void {
  cleanups.push(...cleanup)
}

/** A started bus and a hub on it (heartbeat off unless given), both closed after the test. */
export async function startHub<X extends Catalog = Record<never, never>>(
  options: EventBusOptions<X> = {},
  hubOptions: HubOptions = {},
) {
  const bus = createEventBus(options)
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0, ...hubOptions })
  afterThisTest(async () => {
    hub.close()
    await bus.shutdown({ drainTimeoutMs: 0 })
  })
  return { bus, hub }
}

/** A real endpoint client attached as `module` (may publish and subscribe anything), closed after the test. */
export async function connectClient(hub: Hub, module: string) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module, permissions: { publish: '*', subscribe: '*' } })
  const client = await connectBus(port2)
  afterThisTest(() => client.close())
  return client
}

/** Declares the seed's hot route, DataCapture → Storage, for `types`. */
export function captureToStorage(hub: Hub, types: string[] = ['RawEvent']): DirectRoute {
  return hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types })
}

/** Resolves once `route` carries messages: both ends attached and the order wait over. */
export function untilActive(route: DirectRoute): Promise<void> {
  return waitFor(() => route.state === 'active', 5_000)
}

/** A frame as a raw peer sees it. */
export type RawFrame = { t: string; [key: string]: unknown }

/**
 * A peer speaking raw frames on a real port, attached as `module`: what an endpoint sends,
 * unfiltered. `frames` collects what the hub sends it (a unit carrying ports arrives wrapped, as
 * the port adapter sends it; its frames are collected all the same).
 */
export function rawPeer(hub: Hub, module: string, permissions: object = { publish: '*', subscribe: '*' }) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module, permissions: permissions as never })
  const frames: RawFrame[] = []
  port2.on('message', (unit: RawFrame[] | { data: RawFrame[] }) =>
    frames.push(...(Array.isArray(unit) ? unit : unit.data)),
  )
  afterThisTest(() => port2.close())
  return { port: port2 as MessagePort, frames, send: (unit: unknown) => port2.postMessage(unit) }
}

/**
 * Greets the hub from raw peer `peer` (`hello` adds to the greeting) and subscribes `module` to
 * RawEvent in `mode`; resolves with the subscription id once the hub answered.
 */
export async function subscribeRawEvents(
  peer: ReturnType<typeof rawPeer>,
  module: string,
  mode: { kind: string },
  hello: object = {},
): Promise<string> {
  peer.send([
    { t: 'hello', v: 1, ...hello },
    { t: 'sub', rid: 1, module, filter: { types: ['RawEvent'] }, mode },
  ])
  await waitFor(() => peer.frames.some((frame) => frame.t === 'res'))
  return peer.frames.find((frame) => frame.t === 'res')?.ok as string
}

/** Publishes `count` RawEvents from DataCapture in process, one after another. */
export async function publishRawEvents(bus: Pick<EventBus, 'publish'>, count: number): Promise<void> {
  for (let i = 0; i < count; i++)
    await bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
}
