/**
 * A WebSocket client that speaks only the opening handshake and masked text frames, never answers
 * a close and reads only when told, dropping what it reads: what a misbehaving outside process may
 * do, which the `ws` client cannot be made to do.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterThisTest } from './fixture.js'

/** One masked, unfragmented text frame (RFC 6455 §5.2; a client must mask). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  const length = payload.length
  if (length > 0xffff) throw new Error('rawWebSocket sends frames under 64 KiB')
  const header =
    length < 126
      ? Buffer.from([0x81, 0x80 | length])
      : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff])
  const mask = randomBytes(4)
  for (let i = 0; i < length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number)
  return Buffer.concat([header, mask, payload])
}

export interface RawWebSocket {
  /** Sends each text as a frame of its own, in one write. */
  send(texts: string[]): void
  /** Stops reading what the server sends (it waits in TCP), or reads (and drops) it again. */
  reading(on: boolean): void
  /** Resolves once the server has cut the TCP connection. */
  readonly cut: Promise<void>
}

/** Connects to `port` on loopback with `token` and resolves once the server has switched protocols. */
export async function rawWebSocket(port: number, token: string): Promise<RawWebSocket> {
  const socket: Socket = connect(port, '127.0.0.1')
  afterThisTest(() => void socket.destroy())
  const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('data', (data) =>
      data.toString('latin1').startsWith('HTTP/1.1 101')
        ? resolve()
        : reject(new Error(`no upgrade: ${data.toString('latin1').split('\r\n')[0]}`)),
    )
    socket.write(
      [
        'GET / HTTP/1.1',
        'Host: 127.0.0.1',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    )
  })
  socket.on('error', () => {}) // the server cuts it: that is what the tests wait for
  return {
    send: (texts) => void socket.write(Buffer.concat(texts.map(textFrame))),
    reading: (on) => void (on ? socket.resume() : socket.pause()),
    cut,
  }
}
