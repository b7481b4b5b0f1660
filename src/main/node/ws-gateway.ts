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
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws'
import { z } from 'zod'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import { fromWebSocket } from '../../shared/port.js'
import type { PermissionsOf } from '../../shared/wire.js'
import type { Hub } from '../hub/index.js'
import { checkAttachOptions } from '../hub/permissions.js'
import { admitted, CloseCode } from './ws-admission.js'

export { CloseCode } from './ws-admission.js'

/** An outside process the gateway admits: its identity and what it is granted (checked at start). */
export interface GatewayModule {
  module: string
  permissions: PermissionsOf<string>
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
    hub.attach(fromWebSocket(admitted(socket, maxMessagesPerSecond)), {
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
