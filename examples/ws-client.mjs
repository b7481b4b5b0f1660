// A hub client written from docs/protocol.md alone: plain JavaScript, the `ws` package, no code
// from this repository. It subscribes to its own RawEvents (Reliable), publishes a few, acknowledges
// each delivery, and exits once all have come back.
//
//   SKELLY_BUS_URL=ws://127.0.0.1:PORT SKELLY_BUS_TOKEN=... SKELLY_BUS_MODULE=native-tracker node examples/ws-client.mjs
//   (or SKELLY_BUS_CREDENTIALS=/path/to/<module>.token.json)
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'

const credentials = process.env.SKELLY_BUS_CREDENTIALS
  ? JSON.parse(readFileSync(process.env.SKELLY_BUS_CREDENTIALS, 'utf8'))
  : {
      url: process.env.SKELLY_BUS_URL,
      token: process.env.SKELLY_BUS_TOKEN,
      module: process.env.SKELLY_BUS_MODULE,
    }
const count = Number(process.env.SKELLY_EVENTS ?? 3)

const socket = new WebSocket(credentials.url, { headers: { authorization: `Bearer ${credentials.token}` } })
const send = (...frames) => socket.send(JSON.stringify(frames))
let nextRid = 1
const waiting = new Map()
const request = (frame) =>
  new Promise((resolve, reject) => {
    const rid = nextRid++
    waiting.set(rid, { resolve, reject })
    send({ ...frame, rid })
  })

// superjson form of a message whose envelope and data carry Dates.
function rawEventMessage(source, i) {
  const now = new Date().toISOString()
  return {
    json: {
      id: randomUUID(),
      timestamp: now,
      source,
      priority: 1,
      payload: { type: 'RawEvent', data: { eventType: `native-${i}`, data: { i }, timestamp: now } },
    },
    meta: { values: { timestamp: ['Date'], 'payload.data.timestamp': ['Date'] } },
  }
}

let module
let welcomed
const ready = new Promise((resolve) => {
  welcomed = resolve
})
const received = new Set()

socket.on('close', (code, reason) => {
  console.log(`closed: ${code} ${reason}`)
  process.exit(received.size === count ? 0 : 1)
})
socket.on('message', (data) => {
  for (const frame of JSON.parse(data.toString())) {
    switch (frame.t) {
      case 'welcome':
        module = frame.module
        welcomed()
        break
      case 'res':
        waiting.get(frame.rid)?.resolve(frame.ok?.json)
        waiting.delete(frame.rid)
        break
      case 'okr':
        for (let rid = frame.from; rid <= frame.to; rid++) {
          waiting.get(rid)?.resolve()
          waiting.delete(rid)
        }
        break
      case 'rej':
        waiting.get(frame.rid)?.reject(new Error(frame.error.message))
        waiting.delete(frame.rid)
        break
      case 'dlv': {
        const message = frame.msg.json
        console.log(`delivered ${message.payload.data.eventType} from ${message.source}`)
        received.add(message.payload.data.eventType)
        send({ t: 'ack', ids: [frame.id] })
        if (received.size === count) send({ t: 'bye' })
        break
      }
      case 'ping':
        send({ t: 'pong' })
        break
      case 'err':
        console.error(`hub error: ${frame.error.message}`)
        break
      case 'bye':
        console.log(`hub says bye: ${frame.reason}`)
        break
    }
  }
})

socket.on('open', async () => {
  send({ t: 'hello', v: 1, module: credentials.module })
  await ready
  console.log(`attached as ${module}`)
  const subscription = await request({
    t: 'sub',
    module,
    filter: { types: ['RawEvent'], sources: [module] },
    mode: { kind: 'Reliable', timeoutMs: 5000 },
  })
  console.log(`subscribed: ${subscription}`)
  await Promise.all(
    Array.from({ length: count }, (_, i) => request({ t: 'pub', msg: rawEventMessage(module, i) })),
  )
  console.log(`published ${count}`)
})
