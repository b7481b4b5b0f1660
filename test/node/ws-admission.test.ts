/**
 * What the hub reads of a gateway connection through `admitted`: that it sees how much the
 * connection has left unsent, which the streams' skipping and the reading pause are judged by; and,
 * over a fake socket on fake timers, its rules: the per-second budget, the pause and the resume.
 */
import { EventEmitter, once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { admitted, UNREAD_PAUSE_BYTES } from '../../src/main/node/ws-admission.js'
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

/**
 * A socket as `admitted` reads it, driven by the test: its state, what it has left unsent, the
 * messages and events it emits; and what was done to it (paused, resumed, closed).
 */
function fakeSocket() {
  const events = new EventEmitter()
  const done: string[] = []
  const socket = {
    readyState: WebSocket.OPEN as number,
    bufferedAmount: 0,
    addEventListener: (type: string, listener: (event: unknown) => void) => events.on(type, listener),
    once: (type: string, listener: () => void) => events.once(type, listener),
    pause: () => done.push('pause'),
    resume: () => done.push('resume'),
    close: (code: number, reason: string) => {
      done.push(`close ${code} ${reason}`)
      socket.readyState = WebSocket.CLOSING
    },
    send: () => {},
  }
  return { socket, done, emit: (type: string, event?: unknown) => events.emit(type, event) }
}

/** `admitted` over a fake socket, on fake timers and the monotonic clock they drive; what reached the hub. */
function admittedFake(maxMessagesPerSecond: number) {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now())
  const fake = fakeSocket()
  const read: unknown[] = []
  const admittedSocket = admitted(fake.socket as unknown as WebSocket, maxMessagesPerSecond)
  admittedSocket.addEventListener('message', (event) => read.push(event.data))
  const send = (...data: unknown[]) => {
    for (const item of data) fake.emit('message', { data: item })
  }
  return { ...fake, admittedSocket, read, send }
}

describe('admitted', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('lets through a budget of messages a second, each second from its first message on, and closes at the first over it', async () => {
    const { read, send, done } = admittedFake(3)
    send(1, 2, 3)
    await vi.advanceTimersByTimeAsync(1_000) // a second since the budget began: a new one
    send(4, 5, 6)
    await vi.advanceTimersByTimeAsync(999) // the same second: its budget is spent
    send(7)
    expect(read).toEqual([1, 2, 3, 4, 5, 6])
    expect(done).toEqual(['close 4429 more than 3 messages per second'])
    await vi.advanceTimersByTimeAsync(1_000)
    send(8) // the sender goes on, ignoring the close: nothing more reaches the hub
    expect(read).toHaveLength(6)
    expect(done).toHaveLength(1)
  })

  it('pauses reading while over 4 MiB are unsent, once, and resumes when half have gone, as often as it comes', async () => {
    const { socket, send, done } = admittedFake(1_000)
    socket.bufferedAmount = UNREAD_PAUSE_BYTES
    send(1)
    expect(done).toEqual([]) // at the bound, not over it
    socket.bufferedAmount = UNREAD_PAUSE_BYTES + 1
    send(2, 3) // read before the pause took
    expect(done).toEqual(['pause'])
    socket.bufferedAmount = UNREAD_PAUSE_BYTES / 2 + 1
    await vi.advanceTimersByTimeAsync(100)
    expect(done).toEqual(['pause'])
    socket.bufferedAmount = UNREAD_PAUSE_BYTES / 2
    await vi.advanceTimersByTimeAsync(20)
    expect(done).toEqual(['pause', 'resume'])
    await vi.advanceTimersByTimeAsync(100) // it stops looking
    expect(done).toEqual(['pause', 'resume'])
    // The peer falls behind again: it is paused again, and resumed again.
    socket.bufferedAmount = UNREAD_PAUSE_BYTES + 1
    send(4)
    expect(done).toEqual(['pause', 'resume', 'pause'])
    socket.bufferedAmount = 0
    await vi.advanceTimersByTimeAsync(20)
    expect(done).toEqual(['pause', 'resume', 'pause', 'resume'])
  })

  it('resumes a paused socket that closed, whatever is left unsent', async () => {
    for (const ending of ['close event', 'state'] as const) {
      const { socket, send, done, emit } = admittedFake(1_000)
      socket.bufferedAmount = UNREAD_PAUSE_BYTES + 1
      send(1)
      if (ending === 'close event') emit('close', { code: 1006, reason: '' })
      else {
        socket.readyState = WebSocket.CLOSED
        await vi.advanceTimersByTimeAsync(20)
      }
      expect(done, ending).toEqual(['pause', 'resume'])
      await vi.advanceTimersByTimeAsync(100)
      expect(done, ending).toEqual(['pause', 'resume'])
      vi.useRealTimers()
    }
  })

  it('hands the hub the socket’s open and close events as they come', () => {
    const { admittedSocket, emit } = admittedFake(1_000)
    const seen: string[] = []
    admittedSocket.addEventListener('open', () => seen.push('open'))
    admittedSocket.addEventListener('close', (event) => seen.push(`close ${event.code}`))
    emit('open')
    emit('close', { code: 1000, reason: '' })
    expect(seen).toEqual(['open', 'close 1000'])
  })
})
