/**
 * WebSocket attach for outside processes (native modules in Rust or Python, scripts, the browser
 * bridge): a `ws` server on loopback only, a token per module compared in constant time, an Origin
 * check for browsers, a payload limit and a rate limit, each refusal with its own close code.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type ServerOptions, WebSocket, WebSocketServer } from 'ws'
import { z } from 'zod'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import { unrefTimer } from '../../shared/peer-timers.js'
import { fromWebSocket, type WebSocketLike } from '../../shared/port.js'
import type { Permissions } from '../../shared/wire.js'
import type { Hub } from '../hub/index.js'
import { checkAttachOptions } from '../hub/permissions.js'

/** Close codes of each refusal (see docs/protocol.md). */
export const CloseCode = {
  /** ws closes with 1009 itself when a frame is over `maxPayloadBytes`. */
  MessageTooBig: 1009,
  Unauthorized: 4401,
  OriginNotAllowed: 4403,
  RateLimited: 4429,
} as const

export interface GatewayModule {
  module: string
  permissions: Permissions
}

/** The largest WebSocket message a gateway may be told to accept: the bus's own largest message. */
const MAX_PAYLOAD_BYTES = 268_435_456

const gatewayOptionsSchema = z
  .object({
    /** Loopback only: '127.0.0.1' (default), '::1' or 'localhost'. */
    host: z.string().default('127.0.0.1'),
    /** 0 (default) picks a free port. */
    port: z.number().int().min(0).max(65_535).default(0),
    /** The identities outside processes may attach as; each gets its own token. */
    modules: z.array(z.custom<GatewayModule>()),
    /** Origins a browser may connect from (clients that send no Origin are not browsers). */
    allowedOrigins: z.array(z.string()).default([]),
    /** Largest WebSocket message accepted (bytes, default 4 MiB). */
    maxPayloadBytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAYLOAD_BYTES)
      .default(4 * 1024 * 1024),
    /** Messages a connection may send per second before it is closed (default 5000). */
    maxMessagesPerSecond: z.number().int().min(1).default(5000),
  })
  .strict()
export type GatewayOptions = z.input<typeof gatewayOptionsSchema>

/**
 * The gateway's options with their defaults, and its modules' identities and permissions checked
 * as `hub.attach` checks them. A module listed twice is refused: which token would it have?
 * @throws EventBusError `Configuration` naming the option
 */
function parseGatewayOptions(hub: Hub, options: unknown) {
  const parsed = gatewayOptionsSchema.safeParse(options)
  if (!parsed.success) {
    throw EventBusError.of('Configuration', {
      reason: `startGateway: ${firstIssue(parsed.error, 'options')}`,
    })
  }
  const settings = parsed.data
  if (!LOOPBACK_HOSTS.has(settings.host)) {
    throw EventBusError.of('Configuration', {
      reason: `the gateway binds loopback only (127.0.0.1, ::1 or localhost), not '${settings.host}'`,
    })
  }
  const modules = settings.modules.map((entry) =>
    checkAttachOptions(entry?.module, entry?.permissions, hub.catalog),
  )
  const twice = modules.find(
    (entry, index) => modules.findIndex((other) => other.module === entry.module) !== index,
  )
  if (twice !== undefined) {
    throw EventBusError.of('Configuration', {
      reason: `startGateway: options.modules lists '${twice.module}' more than once`,
    })
  }
  return { ...settings, modules }
}

export interface Gateway {
  /** ws://127.0.0.1:<port> */
  readonly url: string
  readonly port: number
  /** The token of `module`, to hand to that child process. */
  tokenFor(module: string): string
  /** Writes `{ url, module, token }` to `<dir>/<module>.token.json`, readable by this user only (0600). */
  writeCredentials(module: string, dir: string): Promise<string>
  close(): Promise<void>
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * How long a refused or closed connection may take to answer the close before its TCP connection
 * is cut (ws waits 30 s by default). A peer on loopback answers in milliseconds; one that ignores
 * the close, as a flood's sender may, would otherwise hold the connection that long.
 */
export const CLOSE_HANDSHAKE_MS = 2000

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function tokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim()
  // Browsers cannot set headers on a WebSocket: they pass the token in the query.
  return new URL(request.url ?? '/', 'ws://localhost').searchParams.get('token') ?? undefined
}

/** A per-second budget of inbound messages. */
class RateLimit {
  private windowStart = Date.now()
  private count = 0

  constructor(private readonly perSecond: number) {}

  /** Counts one message; false once the budget of the current second is spent. */
  allow(): boolean {
    const now = Date.now()
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.count = 0
    }
    return ++this.count <= this.perSecond
  }
}

/**
 * Bytes a connection may leave unread before the hub stops reading its requests, until half of
 * them have left: a peer that sends requests and never reads the answers would otherwise have the
 * hub hold every answer. (The metrics and tail streams, which come unasked, skip it earlier.)
 */
export const UNREAD_PAUSE_BYTES = 4 * 1024 * 1024
/** How often a connection whose reading is paused is looked at again. */
const UNREAD_POLL_MS = 20

/**
 * Pauses reading `socket` while it has over {@link UNREAD_PAUSE_BYTES} unsent, so the peer's sends
 * wait in TCP, and resumes once half have left (or the socket closed). Call it on each message.
 */
function pauserOf(socket: WebSocket): () => void {
  let poll: ReturnType<typeof setInterval> | undefined
  const resume = () => {
    clearInterval(poll)
    poll = undefined
    socket.resume()
  }
  socket.once('close', resume)
  return () => {
    if (poll !== undefined || socket.bufferedAmount <= UNREAD_PAUSE_BYTES) return
    socket.pause()
    poll = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN || socket.bufferedAmount <= UNREAD_PAUSE_BYTES / 2) resume()
    }, UNREAD_POLL_MS)
    unrefTimer(poll)
  }
}

type Listener<Event> = (event: Event) => void

/** `socket` as the hub reads it: its messages only as far as `admit` lets each through. */
function admitting(socket: WebSocket, admit: () => boolean): WebSocketLike {
  function addEventListener(type: 'message', listener: Listener<{ data: unknown }>): void
  function addEventListener(type: 'close', listener: Listener<{ code: number; reason: string }>): void
  function addEventListener(type: 'open', listener: () => void): void
  // The overloads above say which listener comes with which type.
  function addEventListener(type: 'message' | 'close' | 'open', listener: Listener<never>): void {
    if (type === 'message') {
      const read = listener as Listener<{ data: unknown }>
      socket.addEventListener('message', (event) => {
        if (admit()) read(event)
      })
    } else if (type === 'close')
      socket.addEventListener('close', listener as Listener<{ code: number; reason: string }>)
    else socket.addEventListener('open', listener as () => void)
  }
  return {
    get readyState() {
      return socket.readyState
    },
    get bufferedAmount() {
      return socket.bufferedAmount
    },
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
    addEventListener,
  }
}

/**
 * Starts the gateway and resolves once it listens.
 * @throws EventBusError `Configuration` for an invalid option: a non-loopback host, a module entry
 * `hub.attach` would refuse, a module listed twice
 */
export async function startGateway(hub: Hub, options: GatewayOptions): Promise<Gateway> {
  const { host, port, maxPayloadBytes, maxMessagesPerSecond, ...settings } = parseGatewayOptions(hub, options)
  const entries = settings.modules.map((entry) => ({
    ...entry,
    token: randomBytes(32).toString('base64url'),
  }))
  const byModule = new Map(entries.map((entry) => [entry.module, entry]))
  const digests = entries.map((entry) => ({ entry, digest: digest(entry.token) }))
  const allowedOrigins = new Set(settings.allowedOrigins)

  /** Compares against every token, in constant time per comparison, whatever matches. */
  function authenticate(token: string | undefined) {
    const candidate = digest(token ?? '')
    let found: (typeof entries)[number] | undefined
    for (const { entry, digest: expected } of digests) {
      if (timingSafeEqual(candidate, expected) && token !== undefined) found = entry
    }
    return found
  }

  // `closeTimeout`: ws reads it (8.23) though @types/ws (8.18) does not list it.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    host,
    port,
    maxPayload: maxPayloadBytes,
    closeTimeout: CLOSE_HANDSHAKE_MS,
  }
  const server = new WebSocketServer(serverOptions)
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })

  server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws reports protocol violations (oversize, bad UTF-8 in text) here and closes the socket with
    // the matching code; without a listener the error would be thrown and take the hub down.
    socket.on('error', () => {})
    const origin = request.headers.origin
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      socket.close(CloseCode.OriginNotAllowed, `origin ${origin.slice(0, 80)} is not allowed`)
      return
    }
    const entry = authenticate(tokenOf(request))
    if (entry === undefined) {
      socket.close(CloseCode.Unauthorized, 'missing or invalid token')
      return
    }
    const limit = new RateLimit(maxMessagesPerSecond)
    const pauseIfUnread = pauserOf(socket)
    /**
     * Whether a message goes on to the hub: only while the socket is open and within its budget.
     * The first over the budget closes it (4429), and neither it nor any the sender goes on
     * sending, ignoring the close, reaches the hub. One within it may pause the reading.
     */
    const admit = (): boolean => {
      if (socket.readyState !== WebSocket.OPEN) return false
      if (limit.allow()) {
        pauseIfUnread()
        return true
      }
      socket.close(CloseCode.RateLimited, `more than ${maxMessagesPerSecond} messages per second`)
      return false
    }
    hub.attach(fromWebSocket(admitting(socket, admit)), {
      module: entry.module,
      permissions: entry.permissions,
    })
  })

  const listening = (server.address() as AddressInfo).port
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${listening}`
  function tokenFor(module: string): string {
    const entry = byModule.get(module)
    if (entry === undefined)
      throw EventBusError.of('Configuration', { reason: `the gateway has no module '${module}'` })
    return entry.token
  }
  return {
    url,
    port: listening,
    tokenFor,
    async writeCredentials(module, dir) {
      const path = join(dir, `${module}.token.json`)
      await writeFile(path, JSON.stringify({ url, module, token: tokenFor(module) }), { mode: 0o600 })
      await chmod(path, 0o600) // an existing file keeps its mode on write
      return path
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resolve())
      }),
  }
}
