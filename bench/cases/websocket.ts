/**
 * WebSocket attach from a separate process on 127.0.0.1: the bus's gateway (JSON + superjson,
 * batched per tick, validated and routed to an in-process subscriber) against a raw `ws` server
 * receiving JSON, one keystroke a frame or arrays of 64, and counting them. Round trips: a request
 * published through the gateway and answered by an in-process module through the bus, against a
 * raw `ws` server echoing one keystroke a frame; one at a time, so each is the whole path's time.
 */
import { spawn } from 'node:child_process'
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
import { type CaseDefinition, type Measurement, throughput } from '../harness.js'
import { OUTSIDE_MODULE } from '../payload.js'

/** Runs the client process in `mode`; resolves with what it printed. */
function client(mode: string, url: string, token: string, total: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../workers/ws-client.ts'),
        mode,
        url,
        token,
        String(total),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let printed = ''
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString()
    })
    child.once('exit', (code) =>
      code === 0 ? resolve(printed) : reject(new Error(`ws client (${mode}) exited ${code}`)),
    )
  })
}

/** The round-trip percentiles a client printed, as measurements (µs). */
function roundTrips(printed: string): Measurement[] {
  const { p50, p99 } = JSON.parse(printed.trim().split('\n').at(-1) ?? '{}') as { p50: number; p99: number }
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
  let received = 0
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
    if (++received === total) resolveDone()
  })
  const start = performance.now()
  await Promise.all([client('bus', gateway.url, gateway.tokenFor(ModuleId.DataCapture), total), done])
  const ms = performance.now() - start
  await close()
  return [throughput('messages/s', total, ms)]
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
  const printed = await client('bus-rtt', gateway.url, gateway.tokenFor(OUTSIDE_MODULE), count)
  await close()
  return roundTrips(printed)
}

/** A raw `ws` server on loopback, each connection given to `serve`. */
async function rawServer(serve: (socket: WebSocket) => void): Promise<{ url: string; close(): void }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => server.once('listening', resolve))
  server.on('connection', serve)
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

/** Keystrokes sent one a frame (`raw`) or in arrays of 64 (`raw64`), counted until `total`. */
async function rawThroughput(mode: 'raw' | 'raw64', total: number): Promise<Measurement[]> {
  let received = 0
  let resolveCounted: () => void = () => {}
  const counted = new Promise<void>((resolve) => {
    resolveCounted = resolve
  })
  const server = await rawServer((socket) =>
    socket.on('message', (data) => {
      const parsed = JSON.parse(data.toString()) as unknown
      received += Array.isArray(parsed) ? parsed.length : 1
      if (received === total) {
        socket.close()
        resolveCounted()
      }
    }),
  )
  const start = performance.now()
  await Promise.all([client(mode, server.url, 'none', total), counted])
  const ms = performance.now() - start
  server.close()
  return [throughput('messages/s', total, ms)]
}

/** Keystrokes a raw server echoes, one at a time. */
async function rawRoundTrips(count: number): Promise<Measurement[]> {
  const server = await rawServer((socket) => socket.on('message', (data) => socket.send(data)))
  const printed = await client('raw-rtt', server.url, 'none', count)
  server.close()
  return roundTrips(printed)
}

export const websocket: CaseDefinition = {
  name: 'websocket',
  title:
    'WebSocket from another process (messages/s, including the client’s start-up; round trips one at a time, µs)',
  variants: ['bus gateway', 'raw ws', 'raw ws ×64'],
  async run(variant, { quick }) {
    const total = quick ? 5_000 : 200_000
    const trips = quick ? 200 : 5_000
    switch (variant) {
      case 'bus gateway':
        return [...(await busThroughput(total)), ...(await busRoundTrips(trips))]
      case 'raw ws':
        return [...(await rawThroughput('raw', total)), ...(await rawRoundTrips(trips))]
      default:
        return rawThroughput('raw64', total)
    }
  },
}
