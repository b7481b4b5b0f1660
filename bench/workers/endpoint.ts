/**
 * One side of a cross-thread benchmark, in a worker: the bus's endpoint client or an anchor (raw
 * postMessage, birpc, comlink), as producer or consumer. The main thread says "go"; consumers
 * report when they have everything, latency runs report their histogram.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { createBirpc } from 'birpc'
import * as Comlink from 'comlink'
import nodeEndpoint from 'comlink/dist/umd/node-adapter.js'
import { build } from 'hdr-histogram-js'
import {
  BusMessage,
  connectBus,
  DeliveryMode,
  type DeliveryModeKind,
  MessageFilter,
  MessagePayload,
} from '../../src/shared/index.js'
import { sendPaced } from '../pacing.js'
import { keystroke, keystrokeMessage, now } from '../payload.js'

interface Setup {
  role: string
  port: MessagePort
  mode?: DeliveryModeKind
  batch?: number
  /** Consumers: only messages from these sources. */
  sources?: string[]
  /** Raw variants: send the bus's message objects (envelopes) instead of bare keystrokes. */
  envelopes?: boolean
  /** The hub responder: answer with `client.respond` rather than send each reply unawaited. */
  respond?: boolean
}

interface Go {
  go: true
  total: number
  /** Offered rate for latency runs (messages per second); absent: as fast as possible. */
  rate?: number
  window?: number
}

/**
 * The bus's producers await their publishes in groups of this many, as a producer that wants to
 * know its messages were accepted would, and let their event loop turn once per group; smaller
 * groups cost round trips, larger ones keep more messages alive in the producer (more
 * garbage-collector work) for no gain.
 */
const PUBLISH_GROUP = 256

/** Calls and requests waiting for their answer at once, at most: birpc's, comlink's and the bus's. */
const REQUEST_WINDOW = 64

const setup = workerData as Setup
const post = (message: unknown) => parentPort?.postMessage(message)
const histogram = build({ numberOfSignificantValueDigits: 3 })

let received = 0

/** Counts arrivals; records latency from the sender's timestamp; reports once all have come. */
function consumer(total: () => number) {
  return (sentAt: number, count = 1) => {
    if (sentAt > 0) histogram.recordValue(Math.max(0, Math.round((now() - sentAt) * 1000)))
    received += count
    if (received === total()) {
      post({
        done: true,
        received,
        p50: histogram.getValueAtPercentile(50),
        p99: histogram.getValueAtPercentile(99),
        p999: histogram.getValueAtPercentile(99.9),
        max: histogram.maxValue,
      })
    }
  }
}

/** Sends `total` messages, as fast as allowed or paced at `rate`, `send(n, sentAt)` each. */
async function produce(go: Go, send: (n: number, sentAt: number) => unknown, awaitEvery = 0) {
  const { total, rate } = go
  if (rate === undefined) {
    const pending: unknown[] = []
    for (let n = 0; n < total; n++) {
      const result = send(n, 0)
      if (awaitEvery > 0) {
        pending.push(result)
        if (pending.length >= awaitEvery) {
          await Promise.all(pending.splice(0))
          // Publishes that resolve at once (direct BestEffort) never yield to the event loop, so
          // the consumer's acks would wait in the port until the run ends while the channel's
          // window fills; an app lets its loop run between batches of input, and so does this.
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
    }
    await Promise.all(pending)
    return
  }
  await sendPaced(total, rate, (n) => send(n, now()))
}

let total = 0
const counted = consumer(() => total)

async function start() {
  const { role, port } = setup
  const batch = setup.batch ?? 1
  switch (role) {
    case 'hub-producer': {
      const client = await connectBus(port)
      parentPort?.on('message', async (go: Go) => {
        await produce(
          go,
          (n, sentAt) => client.publish(keystrokeMessage(n, sentAt, client.module)),
          go.window ?? PUBLISH_GROUP,
        )
        post({ sent: true })
      })
      break
    }
    case 'hub-consumer': {
      const client = await connectBus(port)
      const mode =
        setup.mode === 'Reliable' ? DeliveryMode.Reliable({ timeoutMs: 30_000 }) : DeliveryMode.BestEffort
      const filter = setup.sources
        ? MessageFilter.typesAndSources(['RawEvent'], setup.sources)
        : MessageFilter.types(['RawEvent'])
      await client.subscribe(client.module, filter, mode, (message) => {
        counted((message.payload.data.data as { sentAt: number }).sentAt)
      })
      break
    }
    case 'hub-requester': {
      // As birpc's and comlink's callers: up to REQUEST_WINDOW requests waiting for their reply.
      const client = await connectBus(port)
      parentPort?.on('message', async (go: Go) => {
        await produce(
          go,
          (n) =>
            client.request(keystrokeMessage(n, 0, client.module), {
              replyType: 'StorageStatus',
              timeoutMs: 60_000,
            }),
          REQUEST_WINDOW,
        )
        post({ sent: true })
      })
      break
    }
    case 'hub-responder': {
      const client = await connectBus(port)
      const status = (request: BusMessage<'RawEvent'>) => {
        counted(0)
        return { totalEvents: received, storageSizeBytes: 0, lastBatchTime: request.timestamp }
      }
      if (setup.respond) {
        // Each delivery lasts until the hub has taken its reply (README, *Answering fast*).
        await client.respond(
          client.module,
          'RawEvent',
          { replyType: 'StorageStatus', mode: DeliveryMode.BestEffort },
          status,
        )
        break
      }
      await client.subscribe(
        client.module,
        MessageFilter.types(['RawEvent']),
        DeliveryMode.BestEffort,
        (request) => {
          // Sent, not awaited: a handler that awaits its reply's publish holds one of the
          // subscription's `workers` slots for a round trip to the hub, which caps it at four
          // replies a round trip (README, *Requests and replies*). A refused reply rejects
          // unhandled and ends this worker: the run fails loudly.
          void client.publish(
            BusMessage.replyTo(request, client.module, MessagePayload.StorageStatus(status(request))),
          )
        },
      )
      break
    }
    case 'raw-producer': {
      // Per message, or `batch` messages per postMessage.
      let buffer: unknown[] = []
      const item = setup.envelopes ? keystrokeMessage : keystroke
      parentPort?.on('message', async (go: Go) => {
        await produce(go, (n, sentAt) => {
          if (batch === 1) return port.postMessage(item(n, sentAt))
          buffer.push(item(n, sentAt))
          if (buffer.length === batch || n === go.total - 1) {
            port.postMessage(buffer)
            buffer = []
          }
        })
        post({ sent: true })
      })
      break
    }
    case 'raw-consumer': {
      type Item = ReturnType<typeof keystroke> | ReturnType<typeof keystrokeMessage>
      const sentAt = (item: Item) =>
        'payload' in item ? (item.payload.data.data as { sentAt: number }).sentAt : item.data.sentAt
      port.on('message', (data: Item | Item[]) => {
        if (Array.isArray(data)) for (const item of data) counted(sentAt(item))
        else counted(sentAt(data))
      })
      break
    }
    case 'birpc-producer': {
      const rpc = createBirpc<{ event(e: unknown): void; call(e: unknown): number }, object>(
        {},
        { post: (data) => port.postMessage(data), on: (fn) => port.on('message', fn), eventNames: ['event'] },
      )
      parentPort?.on('message', async (go: Go) => {
        if (setup.mode === 'Reliable') await produce(go, (n) => rpc.call(keystroke(n)), REQUEST_WINDOW)
        else await produce(go, (n) => rpc.event(keystroke(n)))
        post({ sent: true })
      })
      break
    }
    case 'birpc-consumer':
      createBirpc<object, { event(e: unknown): void; call(e: unknown): number }>(
        {
          event: () => counted(0),
          call: () => {
            counted(0)
            return 1
          },
        },
        { post: (data) => port.postMessage(data), on: (fn) => port.on('message', fn) },
      )
      break
    case 'comlink-producer': {
      const remote = Comlink.wrap<{ call(e: unknown): number }>(nodeEndpoint(port))
      parentPort?.on('message', async (go: Go) => {
        await produce(go, (n) => remote.call(keystroke(n)), REQUEST_WINDOW)
        post({ sent: true })
      })
      break
    }
    case 'comlink-consumer':
      Comlink.expose(
        {
          call: () => {
            counted(0)
            return 1
          },
        },
        nodeEndpoint(port),
      )
      break
    case 'inspector': {
      // Streams metrics and the tail as the inspector window does, from its own thread as the
      // window runs in its own renderer process. Told to watch or not; says what it got, so a
      // dead stream is noticed.
      const client = await connectBus(port)
      let snapshots = 0
      let entries = 0
      let stops: (() => void)[] = []
      parentPort?.on('message', async (message: { watch?: boolean; report?: boolean }) => {
        if (message.report) post({ inspected: true, snapshots, entries })
        if (message.watch === undefined) return
        for (const stop of stops) stop()
        stops = []
        if (message.watch) {
          stops = await Promise.all([
            client.onMetrics(() => {
              snapshots++
            }),
            client.onTail((tail) => {
              entries += tail.length
            }),
          ])
        }
        post({ watching: message.watch })
      })
      break
    }
    default:
      throw new Error(`unknown role ${role}`)
  }
  parentPort?.on('message', (message: Go) => {
    if (!message.go) return
    // Each run counts from zero: warm-up and measurement are separate runs.
    total = message.total
    received = 0
    histogram.reset()
    // The producer starts only after this: its messages come on another port, in no set order.
    post({ armed: true })
  })
  post({ ready: true })
}

await start()
