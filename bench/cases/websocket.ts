/**
 * WebSocket attach from a separate process on 127.0.0.1: the bus's gateway (JSON + superjson,
 * batched per tick, validated and routed to an in-process subscriber) against a raw `ws` server
 * receiving JSON, one keystroke a frame or arrays of 64, and counting them. Round trips: a request
 * published through the gateway and answered by an in-process module through the bus, against a
 * raw `ws` server echoing one keystroke a frame; one at a time, so each is the whole path's time.
 */
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type WebSocket, WebSocketServer } from 'ws'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { type Gateway, startGateway } from '../../src/main/node/ws-gateway.js'
import { BenchProcess, type CaseDefinition, has, type Measurement, throughput } from '../harness.js'
import { OUTSIDE_MODULE } from '../payload.js'
import type { ClientReport } from '../workers/ws-client.js'

/** What a client process did: when it was told to go (its start-up and connection done), and its report. */
interface ClientRun {
  wentAt: number
  done: Extract<ClientReport, { done: true }>
}

/**
 * Runs the client process in `mode`. It connects, says it is ready, and starts once told to go,
 * so that throughput is timed from then on: its start-up (~0.6 s here, the same in every mode) is
 * no part of what the bus or an anchor carries.
 */
async function client(mode: string, url: string, token: string, total: number): Promise<ClientRun> {
  const child = new BenchProcess<ClientReport>([
    '--import',
    'tsx',
    join(import.meta.dirname, '../workers/ws-client.ts'),
    mode,
    url,
    token,
    String(total),
  ])
  await child.next(has('ready'))
  const wentAt = performance.now()
  return { wentAt, done: await child.ask({ go: true }, has('done')) }
}

/**
 * Counts arrivals: `count(n)` says whether they now reach `total`, and `counted` resolves with the
 * time they did.
 */
function countTo(total: number): { count: (messages?: number) => boolean; counted: Promise<number> } {
  let received = 0
  let done: (at: number) => void = () => {}
  const counted = new Promise<number>((resolve) => {
    done = resolve
  })
  return {
    count: (messages = 1) => {
      received += messages
      if (received !== total) return false
      done(performance.now())
      return true
    },
    counted,
  }
}

/** The round-trip percentiles a client reported, as measurements (µs). */
function roundTrips({ done: { p50, p99 } }: ClientRun): Measurement[] {
  if (p50 === undefined || p99 === undefined) throw new Error('the client reported no round trips')
  return [
    { metric: 'round trip p50', unit: 'µs', value: p50, better: 'lower' },
    { metric: 'round trip p99', unit: 'µs', value: p99, better: 'lower' },
  ]
}

/** A bus with its gateway: DataCapture may publish keystrokes, the outside module ask and hear. */
async function busWithGateway(): Promise<{ bus: EventBus; gateway: Gateway; close(): Promise<void> }> {
  const bus = createEventBus({ maxQueueSize: 1_000_000 })
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0 })
  const gateway = await startGateway(hub, {
    modules: [
      { module: ModuleId.DataCapture, permissions: { publish: ['RawEvent'], subscribe: [] } },
      {
        module: OUTSIDE_MODULE,
        permissions: { publish: ['InterventionRequest'], subscribe: ['InterventionResponse'] },
      },
    ],
    maxMessagesPerSecond: 1_000_000,
  })
  return {
    bus,
    gateway,
    close: async () => {
      await gateway.close()
      hub.close()
      await bus.shutdown()
    },
  }
}

async function busThroughput(total: number): Promise<Measurement[]> {
  const { bus, gateway, close } = await busWithGateway()
  const { count, counted } = countTo(total)
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
    count()
  })
  const [{ wentAt }, doneAt] = await Promise.all([
    client('bus', gateway.url, gateway.tokenFor(ModuleId.DataCapture), total),
    counted,
  ])
  await close()
  return [throughput('messages/s', total, doneAt - wentAt)]
}

async function busRoundTrips(count: number): Promise<Measurement[]> {
  const { bus, gateway, close } = await busWithGateway()
  // AiIntegration's part: each request answered with a reply correlated to it.
  await bus.subscribe(
    ModuleId.AiIntegration,
    MessageFilter.types(['InterventionRequest']),
    DeliveryMode.BestEffort,
    (request) =>
      bus.publish(
        BusMessage.replyTo(
          request,
          ModuleId.AiIntegration,
          MessagePayload.InterventionResponse({
            requestId: request.payload.data.requestId,
            responseText: 'Take a short break.',
            animationCues: ['wave'],
          }),
        ),
      ),
  )
  const run = await client('bus-rtt', gateway.url, gateway.tokenFor(OUTSIDE_MODULE), count)
  await close()
  return roundTrips(run)
}

/** A raw `ws` server on loopback, each connection given to `serve`. */
async function rawServer(serve: (socket: WebSocket) => void): Promise<{ url: string; close(): void }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => server.once('listening', resolve))
  server.on('connection', serve)
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

/**
 * Keystrokes sent one a frame (`raw`) or in arrays of 64 (`raw64`; `raw64envelopes`, the bus's
 * message objects), counted until `total`.
 */
async function rawThroughput(
  mode: 'raw' | 'raw64' | 'raw64envelopes',
  total: number,
): Promise<Measurement[]> {
  const { count, counted } = countTo(total)
  const server = await rawServer((socket) =>
    socket.on('message', (data) => {
      const parsed = JSON.parse(data.toString()) as unknown
      // The client waits for the server to close once it has everything.
      if (count(Array.isArray(parsed) ? parsed.length : 1)) socket.close()
    }),
  )
  const [{ wentAt }, doneAt] = await Promise.all([client(mode, server.url, 'none', total), counted])
  server.close()
  return [throughput('messages/s', total, doneAt - wentAt)]
}

/** Keystrokes a raw server echoes, one at a time. */
async function rawRoundTrips(count: number): Promise<Measurement[]> {
  const server = await rawServer((socket) => socket.on('message', (data) => socket.send(data)))
  const run = await client('raw-rtt', server.url, 'none', count)
  server.close()
  return roundTrips(run)
}

export const websocket: CaseDefinition = {
  name: 'websocket',
  title: 'WebSocket from another process (messages/s once connected; round trips one at a time, µs)',
  // 'raw ws envelopes ×64' carries the bus's message objects: how much of the gap to 'raw ws ×64'
  // is the envelope every bus message has (id, timestamp, source, priority), and how much the bus's work.
  variants: ['bus gateway', 'raw ws', 'raw ws ×64', 'raw ws envelopes ×64'],
  async run(variant, { quick }) {
    const total = quick ? 5_000 : 200_000
    const trips = quick ? 200 : 5_000
    switch (variant) {
      case 'bus gateway':
        return [...(await busThroughput(total)), ...(await busRoundTrips(trips))]
      case 'raw ws':
        return [...(await rawThroughput('raw', total)), ...(await rawRoundTrips(trips))]
      case 'raw ws ×64':
        return rawThroughput('raw64', total)
      default:
        return rawThroughput('raw64envelopes', total)
    }
  },
}
