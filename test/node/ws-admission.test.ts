/**
 * What the hub reads of a gateway connection through `admitted`: here, that it sees how much the
 * connection has left unsent, which the streams' skipping and the reading pause are judged by.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { admitted } from '../../src/main/node/ws-admission.js'
import { fromWebSocket } from '../../src/shared/port.js'
import { waitFor } from '../helpers.js'
import { afterThisTest } from '../hub/fixture.js'

it('lets the hub see what a connection whose peer stopped reading has left unsent', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  afterThisTest(() => new Promise<void>((resolve) => server.close(() => resolve())))
  await once(server, 'listening')
  const connected = once(server, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
  afterThisTest(() => client.terminate())
  await once(client, 'open')
  client.pause()
  const [socket] = await connected
  const port = fromWebSocket(admitted(socket, 1000))
  for (let i = 0; i < 200; i++) port.send('x'.repeat(100_000)) // 20 MB: more than TCP holds
  await waitFor(() => socket.bufferedAmount > 1_000_000)
  expect(port.bufferedBytes?.()).toBe(socket.bufferedAmount)
})
