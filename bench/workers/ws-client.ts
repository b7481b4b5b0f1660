/**
 * A separate process on the other end of a WebSocket, in one of four modes:
 * - `bus`: sends keystrokes through the bus's gateway (the endpoint client, batched per tick). It
 *   keeps up to 1,024 publishes unanswered and awaits the older half when it gets there: awaiting
 *   all of them stalls both processes for a round trip each time (the half: about +30 %), and more
 *   in flight only gives the garbage collector more survivors to copy (4,096: −12 %);
 * - `raw` and `raw64`: sends keystrokes to a raw `ws` server as JSON, one a frame or arrays of 64;
 *   `raw64envelopes`: the bus's message objects (id, timestamp, source, priority around each
 *   keystroke, as the `bus` mode publishes them) in arrays of 64;
 * - `bus-rtt`: publishes an InterventionRequest and waits for the InterventionResponse an
 *   in-process module answers with, one at a time (a window's request and its answer);
 * - `raw-rtt`: sends one keystroke a frame and waits for the server's echo, one at a time.
 * Every mode tells its parent (over IPC) once it is connected, starts when the parent says go, and
 * reports when it is done: the round-trip modes with `{ p50, p99 }` in µs (hdr-histogram-js).
 */
import { build } from 'hdr-histogram-js'
import WebSocket from 'ws'
import { BusMessage, DeliveryMode, MessagePayload } from '../../src/main/bus/index.js'
import { connectBus, fromWebSocket } from '../../src/shared/index.js'
import { keystroke, keystrokeMessage, OUTSIDE_MODULE } from '../payload.js'
import { tellParent } from './parent.js'

const [mode, url, token, totalText] = process.argv.slice(2)
const total = Number(totalText)
const socket = new WebSocket(url as string, { headers: { authorization: `Bearer ${token}` } })
const roundTrips = build({ numberOfSignificantValueDigits: 3 })
/** Round trips before the measured ones, for the JIT and the connection to settle. */
const WARM_UP = Math.min(500, total)

/** What this process tells its parent. */
export type ClientReport = { ready: true } | { done: true; p50?: number; p99?: number }

const tell: (report: ClientReport, then?: () => void) => void = tellParent

const roundTripReport = (): ClientReport => ({
  done: true,
  p50: roundTrips.getValueAtPercentile(50),
  p99: roundTrips.getValueAtPercentile(99),
})

function opened(): Promise<unknown> {
  return new Promise((resolve) => socket.once('open', resolve))
}

/** Says this process is connected, and resolves when the parent says go. */
function ready(): Promise<unknown> {
  const go = new Promise((resolve) => process.once('message', resolve))
  tell({ ready: true })
  return go
}

/**
 * Sends `total` keystrokes made by `item`, `size` a frame (one alone, else an array), without
 * outrunning the socket's buffer.
 */
async function sendRaw(size: number, item: (n: number) => unknown = keystroke): Promise<void> {
  await opened()
  await ready()
  for (let n = 0; n < total; n += size) {
    const events = Array.from({ length: Math.min(size, total - n) }, (_, i) => item(n + i))
    socket.send(JSON.stringify(size === 1 ? events[0] : events))
    if (socket.bufferedAmount > 4 * 2 ** 20) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await new Promise((resolve) => socket.once('close', resolve))
}

let report: ClientReport = { done: true }
switch (mode) {
  case 'bus': {
    const client = await connectBus(fromWebSocket(socket))
    await ready()
    const pending: Promise<string>[] = []
    for (let n = 0; n < total; n++) {
      pending.push(client.publish(keystrokeMessage(n)))
      if (pending.length >= 1024) await Promise.all(pending.splice(0, 512))
    }
    await Promise.all(pending)
    await client.close()
    break
  }
  case 'raw':
    await sendRaw(1)
    break
  case 'raw64':
    await sendRaw(64)
    break
  case 'raw64envelopes':
    await sendRaw(64, keystrokeMessage)
    break
  case 'bus-rtt': {
    const client = await connectBus(fromWebSocket(socket), { module: OUTSIDE_MODULE })
    let answer: (correlationId: string | undefined) => void = () => {}
    await client.subscribe(
      OUTSIDE_MODULE,
      { types: ['InterventionResponse'] },
      DeliveryMode.BestEffort,
      (message) => answer(message.correlationId),
    )
    await ready()
    for (let n = 0; n < WARM_UP + total; n++) {
      const request = BusMessage.create(
        OUTSIDE_MODULE,
        MessagePayload.InterventionRequest({
          requestId: crypto.randomUUID(),
          interventionType: 'tip',
          urgency: 'low',
          context: { n },
        }),
      )
      const answered = new Promise<void>((resolve) => {
        answer = (correlationId) => {
          if (correlationId === request.id) resolve()
        }
      })
      const start = performance.now()
      void client.publish(request)
      await answered
      if (n >= WARM_UP) roundTrips.recordValue(Math.round((performance.now() - start) * 1000))
    }
    await client.close()
    report = roundTripReport()
    break
  }
  case 'raw-rtt': {
    await opened()
    await ready()
    for (let n = 0; n < WARM_UP + total; n++) {
      const echoed = new Promise((resolve) => socket.once('message', resolve))
      const start = performance.now()
      socket.send(JSON.stringify(keystroke(n)))
      await echoed
      if (n >= WARM_UP) roundTrips.recordValue(Math.round((performance.now() - start) * 1000))
    }
    socket.close()
    report = roundTripReport()
    break
  }
  default:
    throw new Error(`unknown mode '${mode}'`)
}
// Exits once the report has left: exiting at once could drop it.
tell(report, () => process.exit(0))
