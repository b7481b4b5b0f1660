/**
 * A separate process that sends keystrokes over WebSocket: through the bus's gateway (the endpoint
 * client, batched per tick) or to a raw `ws` server (JSON arrays of 64 per frame). The bus's
 * producer keeps up to 1,024 publishes unanswered and awaits the older half when it gets there:
 * awaiting all of them stalls both processes for a round trip each time (the half: about +30 %),
 * and more in flight only gives the garbage collector more survivors to copy (4,096: −12 %).
 */
import WebSocket from 'ws'
import { connectBus, fromWebSocket } from '../../src/shared/index.js'
import { keystroke, keystrokeMessage } from '../payload.js'

const [mode, url, token, totalText] = process.argv.slice(2)
const total = Number(totalText)
const socket = new WebSocket(url as string, { headers: { authorization: `Bearer ${token}` } })
if (mode === 'bus') {
  const client = await connectBus(fromWebSocket(socket))
  const pending: Promise<string>[] = []
  for (let n = 0; n < total; n++) {
    pending.push(client.publish(keystrokeMessage(n)))
    if (pending.length >= 1024) await Promise.all(pending.splice(0, 512))
  }
  await Promise.all(pending)
  await client.close()
} else {
  await new Promise((resolve) => socket.once('open', resolve))
  for (let n = 0; n < total; n += 64) {
    socket.send(JSON.stringify(Array.from({ length: Math.min(64, total - n) }, (_, i) => keystroke(n + i))))
    if (socket.bufferedAmount > 4 * 2 ** 20) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await new Promise((resolve) => socket.once('close', resolve))
}
process.exit(0)
