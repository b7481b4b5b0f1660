/**
 * One endpoint of the hub-alone case, in a process of its own, attached through the gateway:
 * `producer` publishes keystrokes at a paced rate, `consumer` counts those of one producer,
 * `inspector` streams metrics and the tail as the inspector window does. Talks to its parent over
 * IPC: says when it is ready, runs when told, and says what it sent, got or saw.
 */
import WebSocket from 'ws'
import { DeliveryMode, MessageFilter } from '../../src/main/bus/index.js'
import { connectBus, fromWebSocket } from '../../src/shared/index.js'
import { sendPaced } from '../pacing.js'
import { keystrokeMessage } from '../payload.js'
import { tellParent } from './parent.js'

/** What the parent says: produce at `rate` for `seconds`, or report. */
type Command = { go: true; rate: number; seconds: number } | { report: true }

/** What this process tells its parent. */
export type EndpointReport = { ready: true } | { sent: number } | { received: number; snapshots: number }

const [role, url, token, producer] = process.argv.slice(2)
const tell: (report: EndpointReport) => void = tellParent
const client = await connectBus(
  fromWebSocket(new WebSocket(url as string, { headers: { authorization: `Bearer ${token}` } })),
)

let received = 0
let snapshots = 0

/** Publishes `rate` keystrokes a second for `seconds`; resolves with how many. */
async function produce(rate: number, seconds: number): Promise<number> {
  const total = Math.round(rate * seconds)
  await sendPaced(total, rate, (n) => {
    client.publish(keystrokeMessage(n, 0, client.module)).catch((error: unknown) => {
      console.error(`${client.module}: a publish was refused: ${String(error)}`)
      process.exit(1)
    })
  })
  return total
}

switch (role) {
  case 'consumer':
    await client.subscribe(
      client.module,
      MessageFilter.typesAndSources(['RawEvent'], [producer as string]),
      DeliveryMode.BestEffort,
      () => {
        received++
      },
    )
    break
  case 'inspector':
    await client.onMetrics(() => {
      snapshots++
    })
    await client.onTail((entries) => {
      received += entries.length
    })
    break
  case 'producer':
    break
  default:
    throw new Error(`unknown role '${role}'`)
}

process.on('message', async (command: Command) => {
  if ('go' in command) tell({ sent: await produce(command.rate, command.seconds) })
  else tell({ received, snapshots })
})
tell({ ready: true })
