/**
 * WebSocket attach with real `ws` clients on loopback: authentication, origin, size and rate
 * refusals with their close codes, while a good client keeps working; rich types survive JSON.
 */
import { execFile } from 'node:child_process'
import { chmod, readFile, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { MessageChannel } from 'node:worker_threads'
import superjson from 'superjson'
import { describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub, type HubOptions } from '../../src/main/hub/index.js'
import { CLOSE_HANDSHAKE_MS, CloseCode, type Gateway, startGateway } from '../../src/main/node/ws-gateway.js'
import { shapedTextCodec } from '../../src/shared/codec.js'
import { type BuiltinCatalog, type BusClient, connectBus, fromWebSocket } from '../../src/shared/index.js'
import { rawEvent, sleep, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'
import { rawWebSocket } from './raw-websocket.js'

const freshDir = tempDirsRemovedAfterAll('gateway')

const catalog = {
  'native.Snapshot': z.object({
    at: z.date(),
    counts: z.map(z.string(), z.number()),
    tags: z.set(z.string()),
    bytes: z.bigint(),
  }),
}

async function setup(options: { maxPayloadBytes?: number; maxMessagesPerSecond?: number } = {}) {
  const { bus, hub } = await startHub({ catalog })
  const gateway = await startGateway(hub, {
    modules: [
      { module: 'native-tracker', permissions: { publish: ['native.Snapshot', 'RawEvent'], subscribe: '*' } },
      { module: 'second-tracker', permissions: { publish: ['RawEvent'], subscribe: [] } },
    ],
    allowedOrigins: ['http://127.0.0.1:5173'],
    ...options,
  })
  afterThisTest(() => gateway.close())
  return { bus, hub, gateway }
}

function open(gateway: Gateway, init: { token?: string; origin?: string; query?: boolean } = {}): WebSocket {
  const headers: Record<string, string> = {}
  if (init.token !== undefined && !init.query) headers.authorization = `Bearer ${init.token}`
  if (init.origin) headers.origin = init.origin
  const url =
    init.query && init.token ? `${gateway.url}/?token=${encodeURIComponent(init.token)}` : gateway.url
  const socket = new WebSocket(url, { headers })
  afterThisTest(() => socket.terminate())
  return socket
}

function closeCode(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
}

async function client(
  gateway: Gateway,
  module = 'native-tracker',
): Promise<BusClient<BuiltinCatalog & typeof catalog>> {
  const socket = open(gateway, { token: gateway.tokenFor(module) })
  return connectBus(fromWebSocket(socket), { module })
}

/**
 * A gateway whose module `native-tracker` may inspect and publish RawEvents, on a bus holding fifty
 * dead letters of 20 kB: each answer to a `dlq list` is a megabyte.
 */
async function withMegabyteAnswers(hubOptions: HubOptions = {}) {
  const { bus, hub } = await startHub({ maxRetryAttempts: 0 }, hubOptions)
  const gateway = await startGateway(hub, {
    modules: [
      { module: 'native-tracker', permissions: { publish: ['RawEvent'], subscribe: [], inspect: true } },
    ],
  })
  afterThisTest(() => gateway.close())
  await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.typesAndSources(['RawEvent'], [ModuleId.DataCapture]),
    DeliveryMode.Reliable(),
    () => {
      throw new Error('refused')
    },
  )
  for (let i = 0; i < 50; i++) {
    await bus.publish(
      BusMessage.create(
        ModuleId.DataCapture,
        MessagePayload.RawEvent(rawEvent({ eventType: 'x'.repeat(20_000) })),
      ),
    )
  }
  await waitFor(async () => (await bus.deadLetters.list()).length === 50)
  return { bus, gateway }
}

/** `count` publish frames of RawEvents from second-tracker, as text, request ids from `from` on. */
function publishes(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, n) => {
    const msg = BusMessage.create(
      'second-tracker',
      MessagePayload.RawEvent(rawEvent({ eventType: `e-${from + n}` })),
    )
    return JSON.stringify([{ t: 'pub', rid: from + n, msg: superjson.serialize(msg) }])
  })
}

describe('WebSocket gateway', () => {
  it('refuses to bind anything but loopback', async () => {
    const bus = createEventBus()
    const hub = createHub(bus)
    await expect(startGateway(hub, { host: '0.0.0.0', modules: [] })).rejects.toMatchObject({
      kind: 'Configuration',
      reason: expect.stringContaining('loopback'),
    })
  })

  it('refuses to start with options it cannot use, naming the option', async () => {
    const hub = createHub(createEventBus())
    const tracker = { module: 'tracker', permissions: { publish: '*', subscribe: '*' } }
    const refusals: [unknown, string][] = [
      [{ modules: [tracker], prot: 8080 }, 'startGateway: options: Unrecognized key: "prot"'],
      [{ modules: [tracker], port: 65_536 }, 'startGateway: options.port: Too big'],
      [{ modules: [tracker], maxPayloadBytes: -5 }, 'startGateway: options.maxPayloadBytes: Too small'],
      [
        { modules: [tracker], maxMessagesPerSecond: '5k' },
        'startGateway: options.maxMessagesPerSecond: Invalid input',
      ],
      // A string would have become a set of its characters.
      [
        { modules: [tracker], allowedOrigins: 'http://127.0.0.1' },
        'startGateway: options.allowedOrigins: Invalid input',
      ],
      [{ modules: [tracker, tracker] }, "startGateway: options.modules lists 'tracker' more than once"],
      [{ modules: [null] }, 'attach: '],
      [{}, 'startGateway: options.modules: Invalid input: expected array, received undefined'],
    ]
    for (const [options, reason] of refusals) {
      await expect(startGateway(hub, options as never)).rejects.toMatchObject({
        kind: 'Configuration',
        reason: expect.stringContaining(reason),
      })
    }
  })

  it('refuses to start for a module granted a type the bus does not know', async () => {
    const hub = createHub(createEventBus())
    const modules = [{ module: 'tracker', permissions: { publish: ['RawEvents'], subscribe: '*' as const } }]
    await expect(startGateway(hub, { modules })).rejects.toMatchObject({
      kind: 'Configuration',
      reason: "attach: permissions.publish lists 'RawEvents', which is not in the bus's catalog",
    })
  })

  it('attaches a token holder as its module, and carries Date, Map, Set and BigInt both ways', async () => {
    const { bus, gateway } = await setup()
    const tracker = await client(gateway)
    expect(tracker.module).toBe('native-tracker')
    const inProcess: unknown[] = []
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['native.Snapshot']),
      DeliveryMode.BestEffort,
      (m) => {
        inProcess.push(m.payload.data)
      },
    )
    const snapshot = {
      at: new Date('2026-11-30T09:30:00Z'),
      counts: new Map([['keys', 12]]),
      tags: new Set(['focus']),
      bytes: 2n ** 70n,
    }
    await tracker.publish(BusMessage.create('native-tracker', { type: 'native.Snapshot', data: snapshot }))
    await waitFor(() => inProcess.length === 1)
    expect(inProcess[0]).toEqual(snapshot)

    const overWire: unknown[] = []
    await tracker.subscribe(
      'native-tracker',
      { types: ['native.Snapshot'] },
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      (m) => {
        overWire.push(m.payload.data)
      },
    )
    await bus.publish(BusMessage.create(ModuleId.Storage, { type: 'native.Snapshot', data: snapshot }))
    await waitFor(() => overWire.length === 1)
    expect(overWire[0]).toEqual(snapshot)
    expect((overWire[0] as typeof snapshot).at).toBeInstanceOf(Date)
    await waitFor(async () => (await bus.metrics()).subscriptions.every((s) => s.inFlight === 0))
  })

  it('accepts the token in the query for browsers from an allowed origin', async () => {
    const { gateway } = await setup()
    const socket = open(gateway, {
      token: gateway.tokenFor('second-tracker'),
      query: true,
      origin: 'http://127.0.0.1:5173',
    })
    const second = await connectBus(fromWebSocket(socket))
    expect(second.module).toBe('second-tracker')
  })

  it('writes credentials readable by this user only', async () => {
    const { gateway } = await setup()
    const dir = await freshDir()
    const path = await gateway.writeCredentials('native-tracker', dir)
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      url: gateway.url,
      module: 'native-tracker',
      token: gateway.tokenFor('native-tracker'),
    })
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    // A file left there before, readable by others, is made this user's only as well.
    await chmod(path, 0o644)
    await gateway.writeCredentials('native-tracker', dir)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('gives each module a token of 32 random bytes, and none for a module it does not have', async () => {
    const { gateway } = await setup()
    const tokens = ['native-tracker', 'second-tracker'].map((module) => gateway.tokenFor(module))
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(new Set(tokens).size).toBe(2)
    expect(() => gateway.tokenFor('storage')).toThrow("the gateway has no module 'storage'")
  })

  it('takes a bearer token with spaces around it', async () => {
    const { gateway } = await setup()
    const socket = new WebSocket(gateway.url, {
      headers: { authorization: `Bearer  ${gateway.tokenFor('second-tracker')} ` },
    })
    afterThisTest(() => socket.terminate())
    expect((await connectBus(fromWebSocket(socket))).module).toBe('second-tracker')
  })

  it('refuses an origin of any length with a close reason WebSocket can carry (123 bytes at most)', async () => {
    const { gateway } = await setup()
    const origin = `https://${'a'.repeat(300)}.example`
    const socket = open(gateway, { token: gateway.tokenFor('native-tracker'), origin })
    expect(await closeCode(socket)).toEqual({
      code: CloseCode.OriginNotAllowed,
      reason: `origin ${origin.slice(0, 80)} is not allowed`,
    })
  })

  it('ends its clients’ connections as it closes', async () => {
    const { hub } = await startHub()
    const gateway = await startGateway(hub, {
      modules: [{ module: 'second-tracker', permissions: { publish: ['RawEvent'], subscribe: [] } }],
    })
    const socket = open(gateway, { token: gateway.tokenFor('second-tracker') })
    await connectBus(fromWebSocket(socket))
    const closed = closeCode(socket)
    await gateway.close()
    expect((await closed).code).toBe(1006)
  })

  it('tells a refused client why: the close code and reason reach its Disconnected error', async () => {
    const { gateway } = await setup()
    const refusals: [WebSocket, string][] = [
      [open(gateway, { token: 'not-the-token' }), 'code 4401, "missing or invalid token"'],
      [
        open(gateway, { token: gateway.tokenFor('native-tracker'), origin: 'https://evil.example' }),
        'code 4403, "origin https://evil.example is not allowed"',
      ],
    ]
    for (const [socket, why] of refusals) {
      await expect(connectBus(fromWebSocket(socket))).rejects.toMatchObject({
        kind: 'Disconnected',
        reason: `the WebSocket closed with ${why}`,
      })
    }
  })

  it('refuses each bad connection with its close code while a good client keeps working', async () => {
    const { bus, gateway } = await setup({ maxPayloadBytes: 64 * 1024, maxMessagesPerSecond: 50 })
    const good = await client(gateway)
    const seen: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      seen.push(m.payload.data.eventType)
    })

    const wrongToken = closeCode(open(gateway, { token: 'not-the-token' }))
    const noToken = closeCode(open(gateway))
    const badOrigin = closeCode(
      open(gateway, { token: gateway.tokenFor('native-tracker'), origin: 'https://evil.example' }),
    )
    expect(await wrongToken).toMatchObject({ code: CloseCode.Unauthorized })
    expect(await noToken).toMatchObject({ code: CloseCode.Unauthorized })
    expect(await badOrigin).toMatchObject({ code: CloseCode.OriginNotAllowed })

    const oversize = open(gateway, { token: gateway.tokenFor('second-tracker') })
    const oversizeClosed = closeCode(oversize)
    oversize.on('open', () => oversize.send('x'.repeat(128 * 1024)))
    expect((await oversizeClosed).code).toBe(CloseCode.MessageTooBig)

    const flood = open(gateway, { token: gateway.tokenFor('second-tracker') })
    const floodClosed = closeCode(flood)
    flood.on('open', () => {
      for (let i = 0; i < 500; i++) flood.send(JSON.stringify([{ t: 'ping' }]))
    })
    expect(await floodClosed).toMatchObject({ code: CloseCode.RateLimited })

    await good.publish(
      BusMessage.create('native-tracker', MessagePayload.RawEvent(rawEvent({ eventType: 'still-here' }))),
    )
    await waitFor(() => seen.includes('still-here'))
  })

  it('lets a flood that ignores its close reach the hub with nothing over its budget, and cuts it off', async () => {
    const { bus, gateway } = await setup({ maxMessagesPerSecond: 50 })
    let seen = 0
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
      seen++
    })
    const flood = await rawWebSocket(gateway.port, gateway.tokenFor('second-tracker'))
    const opened = performance.now()
    // The hello and 49 publishes are the second's budget; the next message is told to go (4429).
    flood.send([JSON.stringify([{ t: 'hello', v: 1 }]), ...publishes(0, 200)])
    // It goes on sending, into the budget's next second too, and never answers the close.
    for (let round = 1; round <= 12; round++) {
      await sleep(100)
      flood.send(publishes(round * 1000, 50))
    }
    await flood.cut
    expect(performance.now() - opened).toBeLessThan(CLOSE_HANDSHAKE_MS + 5000) // not ws's 30 s
    expect(seen).toBe(49)
  }, 20_000)

  it('keeps a client within its budget across a step of the wall clock back: its seconds still end', async () => {
    const { bus, gateway } = await setup({ maxMessagesPerSecond: 20 })
    let seen = 0
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
      seen++
    })
    const client = await rawWebSocket(gateway.port, gateway.tokenFor('second-tracker'))
    let cut = false
    void client.cut.then(() => {
      cut = true
    })
    client.send([JSON.stringify([{ t: 'hello', v: 1 }]), ...publishes(0, 9)])
    // The system clock is set an hour back (a time sync, a user's change), and keeps running.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    afterThisTest(() => {
      vi.useRealTimers()
    })
    vi.setSystemTime(Date.now() - 3_600_000)
    // Ten a half second: half the budget of each second, 50 in all.
    for (let round = 1; round <= 5; round++) {
      await sleep(500)
      client.send(publishes(round * 100, 10))
    }
    await waitFor(() => seen === 59 || cut)
    expect(cut).toBe(false)
    expect(seen).toBe(59)
  })

  it('stops reading a client that leaves its answers unread, and reads it again once it reads', async () => {
    const { bus, gateway } = await withMegabyteAnswers()
    let seen = 0
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.typesAndSources(['RawEvent'], ['native-tracker']),
      DeliveryMode.BestEffort,
      () => {
        seen++
      },
    )

    const client = await rawWebSocket(gateway.port, gateway.tokenFor('native-tracker'))
    client.reading(false)
    client.send([JSON.stringify([{ t: 'hello', v: 1 }])])
    // Each unit asks for a megabyte and publishes once, in a write of its own: 60 MB asked for.
    const units = 60
    for (let n = 0; n < units; n++) {
      const msg = BusMessage.create(
        'native-tracker',
        MessagePayload.RawEvent(rawEvent({ eventType: `asked-${n}` })),
      )
      client.send([
        JSON.stringify([
          { t: 'dlq', rid: 2 * n + 1, op: 'list' },
          { t: 'pub', rid: 2 * n + 2, msg: superjson.serialize(msg) },
        ]),
      ])
      await sleep(10)
    }
    await sleep(500)
    // The hub read until it held UNREAD_PAUSE_BYTES unsent (beside what TCP holds), then waited.
    expect(seen).toBeGreaterThan(0)
    expect(seen).toBeLessThan(units)
    client.reading(true)
    await waitFor(() => seen === units)
  })

  it('takes a client whose reading stayed paused past three heartbeats for gone, and cuts it', async () => {
    const { gateway } = await withMegabyteAnswers({ heartbeatMs: 300 })
    const client = await rawWebSocket(gateway.port, gateway.tokenFor('native-tracker'))
    client.reading(false)
    client.send([JSON.stringify([{ t: 'hello', v: 1 }])])
    for (let n = 0; n < 30; n++) {
      client.send([JSON.stringify([{ t: 'dlq', rid: n + 1, op: 'list' }])])
      await sleep(10)
    }
    // Its pongs, sent blindly, wait unread with the rest: to the hub it stopped answering.
    const paused = performance.now()
    const pongs = setInterval(() => client.send([JSON.stringify([{ t: 'pong' }])]), 100)
    afterThisTest(() => clearInterval(pongs))
    await client.cut
    expect(performance.now() - paused).toBeLessThan(3 * 300 + CLOSE_HANDSHAKE_MS + 3000)
  })

  it('answers garbage text with error frames and keeps the connection', async () => {
    const { gateway, hub } = await setup()
    const socket = open(gateway, { token: gateway.tokenFor('native-tracker') })
    const frames: { t: string; error?: { data: { reason: string } } }[] = []
    socket.on('message', (data) => frames.push(...JSON.parse(data.toString())))
    await new Promise((resolve) => socket.on('open', resolve))
    socket.send('{not json')
    socket.send(JSON.stringify({ t: 'hello' }))
    socket.send(JSON.stringify([{ t: 'pub', rid: 1, msg: { json: {} } }]))
    socket.send(Buffer.from([0xff, 0xfe, 0xfd]))
    await waitFor(() => frames.filter((f) => f.t === 'err').length === 4)
    const reasons = frames.map((f) => f.error?.data.reason)
    expect(reasons[0]).toMatch(/not JSON/)
    expect(reasons[1]).toMatch(/JSON array/)
    expect(reasons[2]).toMatch(/hello' first/)
    expect(reasons[3]).toMatch(/UTF-8/)
    socket.send(JSON.stringify([{ t: 'hello', v: 1 }]))
    await waitFor(() => frames.some((f) => f.t === 'welcome'))
    // An inspector sees the connection, over a WebSocket, and the four frames it sent wrong.
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: 'inspector', permissions: { publish: [], subscribe: [], inspect: true } })
    const inspector = await connectBus(port2)
    afterThisTest(() => inspector.close())
    const { connections } = await inspector.metrics()
    expect(connections?.find((connection) => connection.module === 'native-tracker')).toEqual({
      module: 'native-tracker',
      transport: 'websocket',
      attachedAt: expect.any(Date),
      greeted: true,
      subscriptions: 0,
      awaitingAck: 0,
      unsentBytes: expect.any(Number),
      badFrames: 4,
      watching: [],
    })
  })

  it('refuses a message holding a key superjson will not encode, so WebSocket subscribers keep working', async () => {
    const { bus, gateway } = await setup()
    const subscriber = await client(gateway)
    const got: unknown[] = []
    await subscriber.subscribe(
      'native-tracker',
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      (m) => {
        got.push(m.payload.data.data)
      },
    )
    // Valid JSON with an own "__proto__" key: accepted, it used to make the hub's text encoder
    // throw while flushing to this subscriber.
    const polluted = JSON.parse('{"nested":{"__proto__":{"polluted":true}}}')
    await expect(
      bus.publish(
        BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ data: polluted }))),
      ),
    ).rejects.toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/the key '__proto__' \(at payload\.data\.data\.nested\.__proto__\)/),
    })
    await bus.publish(
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ data: { fine: 1 } }))),
    )
    await waitFor(() => got.length === 1)
    expect(got).toEqual([{ fine: 1 }])
  })

  it('reads batched publishes over text, and names the message in a batch that is not superjson', async () => {
    const { bus, gateway } = await setup()
    const received: Date[] = []
    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.BestEffort,
      (message) => {
        received.push(message.timestamp)
      },
    )
    const socket = open(gateway, { token: gateway.tokenFor('native-tracker') })
    const frames: { t: string; from?: number; to?: number; error?: { data: { reason: string } } }[] = []
    socket.on('message', (data) => frames.push(...JSON.parse(data.toString())))
    await new Promise((resolve) => socket.on('open', resolve))
    socket.send(JSON.stringify([{ t: 'hello', v: 1, batch: true }]))
    await waitFor(() => frames.some((f) => f.t === 'welcome'))
    const good = superjson.serialize(BusMessage.create('native-tracker', MessagePayload.RawEvent(rawEvent())))
    socket.send(JSON.stringify([{ t: 'pubs', rid: 1, msgs: { json: [] } }]))
    socket.send(JSON.stringify([{ t: 'pubs', rid: 2, msgs: [good, 7] }]))
    socket.send(JSON.stringify([{ t: 'pubs', rid: 4, msgs: [good, good] }]))
    await waitFor(() => frames.some((f) => f.t === 'okr'))
    const reasons = frames.filter((f) => f.t === 'err').map((f) => f.error?.data.reason)
    expect(reasons).toEqual([
      expect.stringMatching(/msgs must be an array of superjson values/),
      expect.stringMatching(/msgs\.1 must be a superjson value/),
    ])
    expect(frames.find((f) => f.t === 'okr')).toMatchObject({ from: 4, to: 5 })
    await waitFor(() => received.length === 2)
    expect(received.every((timestamp) => timestamp instanceof Date)).toBe(true)
  })
})

describe('batches as rows beside templates over text', () => {
  it('are read from any peer and sent only to one that asked; a malformed one is refused with the reason', async () => {
    const { bus, gateway } = await setup()
    const received: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, (m) => {
      received.push(m.payload.data.eventType)
    })
    /** A raw socket as native-tracker, greeted with `hello`, collecting what the hub sends. */
    const peer = async (hello: object) => {
      const socket = open(gateway, { token: gateway.tokenFor('native-tracker') })
      const frames: {
        t: string
        msgs?: unknown[]
        shapes?: unknown
        error?: { data: { reason: string } }
      }[] = []
      socket.on('message', (data) => frames.push(...JSON.parse(data.toString())))
      await new Promise((resolve) => socket.on('open', resolve))
      socket.send(JSON.stringify([{ t: 'hello', v: 1, batch: true, ...hello }]))
      socket.send(
        JSON.stringify([
          {
            t: 'sub',
            rid: 1,
            module: 'native-tracker',
            filter: { types: ['RawEvent'] },
            mode: { kind: 'BestEffort' },
          },
        ]),
      )
      await waitFor(() => frames.some((f) => f.t === 'res'))
      return { socket, frames }
    }
    const plain = await peer({})
    const msgs = ['a', 'b'].map((eventType) =>
      BusMessage.create('native-tracker', MessagePayload.RawEvent(rawEvent({ eventType }))),
    )
    // Rows from a peer that never said it reads them: the hub reads them all the same, and sends
    // that peer superjson forms only.
    plain.socket.send(shapedTextCodec.encode([{ t: 'pubs', rid: 2, msgs }]) as string)
    await waitFor(() => received.length === 2)
    expect(received).toEqual(['a', 'b'])
    const dlvs = (frames: typeof plain.frames) => frames.filter((f) => f.t === 'dlvs')
    await waitFor(() => dlvs(plain.frames).length > 0)
    expect(dlvs(plain.frames)[0]).not.toHaveProperty('shapes')
    plain.socket.send(JSON.stringify([{ t: 'pubs', rid: 4, msgs: [[0, 12]], shapes: [['timestamp', 1]] }]))
    await waitFor(() => plain.frames.some((f) => f.t === 'err'))
    expect(plain.frames.find((f) => f.t === 'err')?.error?.data.reason).toBe(
      "invalid frame 'pubs': msgs.0: a Date is written as an ISO string",
    )
    plain.socket.close()
    // A peer that asked gets rows.
    const asking = await peer({ shapes: true })
    await Promise.all(msgs.map((message) => bus.publish({ ...message, id: crypto.randomUUID() })))
    await waitFor(() => dlvs(asking.frames).length > 0)
    expect(dlvs(asking.frames)[0]?.shapes).toHaveLength(1)
    expect(received).toHaveLength(4)
    asking.socket.close()
  })
})

describe('the documented protocol', () => {
  it('is enough for the example client, which uses none of this repository’s code', async () => {
    const { gateway } = await setup()
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/ws-client.mjs'], {
      env: {
        ...process.env,
        SKELLY_BUS_URL: gateway.url,
        SKELLY_BUS_TOKEN: gateway.tokenFor('native-tracker'),
        SKELLY_BUS_MODULE: 'native-tracker',
        SKELLY_EVENTS: '3',
      },
      timeout: 10_000,
    })
    expect(stdout).toContain('attached as native-tracker')
    expect(stdout).toContain('delivered native-2 from native-tracker')
    expect(stdout).toContain('hub says bye: bye')
  })
})
