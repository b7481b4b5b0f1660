/**
 * WebSocket attach from a separate process on 127.0.0.1: the bus's gateway (JSON + superjson,
 * batched per tick, validated and routed to an in-process subscriber) against a raw `ws` server
 * receiving JSON arrays of 64 and counting them.
 */
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { createEventBus, DeliveryMode, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'
import { type CaseDefinition, throughput } from '../harness.js'

function client(mode: string, url: string, token: string, total: number): Promise<void> {
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
      { stdio: 'inherit' },
    )
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ws client exited ${code}`))))
  })
}

async function bus(total: number): Promise<number> {
  const bus = createEventBus({ maxQueueSize: 1_000_000 })
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0 })
  const gateway = await startGateway(hub, {
    modules: [{ module: ModuleId.DataCapture, permissions: { publish: ['RawEvent'], subscribe: [] } }],
    maxMessagesPerSecond: 1_000_000,
  })
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
  await gateway.close()
  hub.close()
  return ms
}

async function raw(total: number): Promise<number> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => server.once('listening', resolve))
  let received = 0
  const done = new Promise<void>((resolve) => {
    server.on('connection', (socket) =>
      socket.on('message', (data) => {
        received += (JSON.parse(data.toString()) as unknown[]).length
        if (received === total) {
          socket.close()
          resolve()
        }
      }),
    )
  })
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  const start = performance.now()
  await Promise.all([client('raw', url, 'none', total), done])
  const ms = performance.now() - start
  server.close()
  return ms
}

export const websocket: CaseDefinition = {
  name: 'websocket',
  title: 'WebSocket from another process (messages/s, including the client’s start-up)',
  variants: ['bus gateway', 'raw ws ×64'],
  async run(variant, { quick }) {
    const total = quick ? 5_000 : 200_000
    const ms = variant === 'bus gateway' ? await bus(total) : await raw(total)
    return [throughput('messages/s', total, ms)]
  },
}
