/**
 * The one port interface the hub and the endpoint client know, and tiny adapters for each
 * transport: a DOM `MessagePort`, a Node `worker_threads` `MessagePort`, Electron's
 * `MessagePortMain` and a WebSocket. Adapters are typed structurally so that this runtime-neutral
 * module imports none of those runtimes.
 */
import { EventBusError, kindOf } from './errors.js'

/** How a transport carries data: structured clones (ports) or text (WebSocket). */
export type PortCarrier = 'clone' | 'text'

/** A bidirectional, message-oriented channel. */
export interface Port {
  /** What the transport carries: structured clones or text. */
  readonly carrier: PortCarrier
  /** Sends one unit (a batch of frames, already encoded for the carrier). */
  send(data: unknown): void
  /**
   * Sends one unit with message ports transferred alongside it (structured-clone transports only;
   * absent where ports cannot travel, e.g. over WebSocket). The peer's listener gets them as `ports`.
   */
  transfer?(data: unknown, ports: readonly unknown[]): void
  /** Wraps a port that arrived through this transport (the same kind as this one). */
  adopt?(received: unknown): Port
  /** Sets the one listener for inbound units (and the ports transferred with them, if any). */
  onMessage(listener: (data: unknown, ports: readonly unknown[]) => void): void
  /**
   * Sets the one listener called once when the channel closes (either side, or the peer dies), with
   * why when the transport says (a WebSocket's close code and reason).
   */
  onClose(listener: (reason?: string) => void): void
  /** Starts delivery of queued inbound messages. */
  start(): void
  /** Closes the channel; the close listener runs once. */
  close(): void
  /**
   * Bytes sent that have not yet left for the peer, where the transport tells (a WebSocket's
   * `bufferedAmount`: a peer that stops reading makes it grow); absent where it does not.
   */
  bufferedBytes?(): number
}

/** The transport's own port (or socket) each adapter made here wraps. */
const wrapped = new WeakMap<Port, object>()

/** `port`, remembered as the adapter of `transport` (see PortsGiven). */
function adapterOf(transport: object, port: Port): Port {
  wrapped.set(port, transport)
  return port
}

/** Makes sure the close listener runs once, whoever notices the close first. */
type CloseListener = (reason?: string) => void

function closeOnce(): { fire: CloseListener; set(listener: CloseListener): void } {
  let listener: CloseListener | undefined
  let fired = false
  let firedWith: string | undefined
  return {
    fire(reason) {
      if (fired) return
      fired = true
      firedWith = reason
      listener?.(reason)
    },
    set(next) {
      listener = next
      if (fired) next(firedWith)
    },
  }
}

/** What every structured-clone port has; only how listeners attach differs between them. */
interface ClonePortLike {
  postMessage(data: unknown): void
  postMessage(data: unknown, transfer: never[]): void
  start(): void
  close(): void
}

type UnitListener = (data: unknown, ports: readonly unknown[]) => void

const NO_PORTS: readonly unknown[] = Object.freeze([])

function clonePort(
  port: ClonePortLike,
  listenForData: (listener: UnitListener) => void,
  listenForClose: (listener: () => void) => void,
  transport: { transfer(data: unknown, ports: readonly unknown[]): void; adopt(received: unknown): Port },
): Port {
  const closed = closeOnce()
  // These transports say nothing of why; their listener gets a close event, which is no reason.
  listenForClose(() => closed.fire())
  return adapterOf(port, {
    carrier: 'clone',
    send: (data) => port.postMessage(data),
    transfer: transport.transfer,
    adopt: transport.adopt,
    onMessage: listenForData,
    onClose: closed.set,
    start: () => port.start(),
    close: () => {
      port.close()
      closed.fire()
    },
  })
}

/** The part of a Node `worker_threads` `MessagePort` the adapter uses. */
export interface NodeMessagePortLike {
  /** Listens for the peer's messages, and for the channel closing. */
  on(event: 'message', listener: (data: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  /** Sends a structured clone, with message ports transferred when `transfer` lists them. */
  postMessage(data: unknown): void
  postMessage(data: unknown, transfer: never[]): void
  /** Starts delivering queued messages. */
  start(): void
  /** Closes the channel; the peer sees `close`. */
  close(): void
  /** Keeps the thread alive while the port is open. */
  ref(): void
  /** Lets the thread exit though the port is open. */
  unref(): void
}

/**
 * Node delivers only the posted value (no separate `ports`), so a unit with ports travels wrapped
 * in this marked envelope; plain units are arrays and never mistaken for it.
 */
interface NodeTransferUnit {
  readonly skellyTransfer: true
  readonly data: unknown
  readonly ports: readonly unknown[]
}

function isNodeTransferUnit(value: unknown): value is NodeTransferUnit {
  return !Array.isArray(value) && (value as Partial<NodeTransferUnit> | null)?.skellyTransfer === true
}

/** Adapts a Node `worker_threads` `MessagePort` (its 'close' fires when either side closes or dies). */
export function fromNodePort(port: NodeMessagePortLike): Port {
  return clonePort(
    port,
    (listener) =>
      port.on('message', (value) =>
        isNodeTransferUnit(value) ? listener(value.data, value.ports) : listener(value, NO_PORTS),
      ),
    (listener) => port.on('close', listener),
    {
      transfer: (data, ports) =>
        port.postMessage({ skellyTransfer: true, data, ports } satisfies NodeTransferUnit, [
          ...ports,
        ] as never[]),
      adopt: (received) => fromNodePort(received as NodeMessagePortLike),
    },
  )
}

/** The part of a DOM `MessagePort` the adapter uses. */
export interface DomMessagePortLike {
  /** Listens for the peer's messages (with any ports transferred), and for the channel closing. */
  addEventListener(
    type: 'message',
    listener: (event: { data: unknown; ports?: readonly unknown[] }) => void,
  ): void
  addEventListener(type: 'close', listener: () => void): void
  /** Sends a structured clone, with message ports transferred when `transfer` lists them. */
  postMessage(data: unknown): void
  postMessage(data: unknown, transfer: never[]): void
  /** Starts delivering queued messages. */
  start(): void
  /** Closes the channel. */
  close(): void
}

/**
 * Adapts a DOM `MessagePort`. Browsers that fire its 'close' event report a lost peer; elsewhere
 * the heartbeat does.
 */
export function fromDomPort(port: DomMessagePortLike): Port {
  return clonePort(
    port,
    (listener) => port.addEventListener('message', (event) => listener(event.data, event.ports ?? NO_PORTS)),
    (listener) => port.addEventListener('close', listener),
    {
      transfer: (data, ports) => port.postMessage(data, [...ports] as never[]),
      adopt: (received) => fromDomPort(received as DomMessagePortLike),
    },
  )
}

/**
 * The part of Electron's `MessagePortMain` the adapter uses. It delivers `{ data, ports }` events
 * and transfers only ports, so nothing is ever put in its transfer list here.
 */
export interface ElectronMessagePortLike {
  /** Listens for the peer's messages (with any ports transferred), and for the channel closing. */
  on(event: 'message', listener: (event: { data: unknown; ports?: readonly unknown[] }) => void): unknown
  on(event: 'close', listener: () => void): unknown
  /** Sends a structured clone, with `MessagePortMain`s transferred when `transfer` lists them. */
  postMessage(message: unknown): void
  postMessage(message: unknown, transfer: never[]): void
  /** Starts delivering queued messages. */
  start(): void
  /** Closes the channel; the peer sees `close`. */
  close(): void
}

/** Adapts Electron's `MessagePortMain`. */
export function fromElectronPort(port: ElectronMessagePortLike): Port {
  return clonePort(
    port,
    (listener) => port.on('message', (event) => listener(event.data, event.ports ?? NO_PORTS)),
    (listener) => port.on('close', listener),
    {
      transfer: (data, ports) => port.postMessage(data, [...ports] as never[]),
      adopt: (received) => fromElectronPort(received as ElectronMessagePortLike),
    },
  )
}

/** The part of a WebSocket (the `ws` package's or a browser's) the adapter uses. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number
  /** Bytes queued by `send` that have not yet left (browsers' and `ws`'s WebSockets have it). */
  readonly bufferedAmount?: number
  /** Sends one text frame. */
  send(data: string): void
  /** Closes the connection with an optional code and reason. */
  close(code?: number, reason?: string): void
  /** Listens for frames, for the close (with its code and reason) and for the connection opening. */
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
  addEventListener(type: 'open', listener: () => void): void
}

const WEBSOCKET_CONNECTING = 0
const WEBSOCKET_OPEN = 1

/** Adapts a WebSocket (connecting or open); units are text frames, held until it opens. */
export function fromWebSocket(socket: WebSocketLike): Port {
  const closed = closeOnce()
  let held: string[] = []
  socket.addEventListener('open', () => {
    for (const unit of held) socket.send(unit)
    held = []
  })
  // The code and reason say why (the gateway's 4401 for a wrong token, 4403 for an origin, 4429
  // for a flood), which a client would otherwise report as a closed port and nothing more.
  socket.addEventListener('close', ({ code, reason }) =>
    closed.fire(`the WebSocket closed with code ${code}${reason ? `, "${reason}"` : ''}`),
  )
  return adapterOf(socket, {
    carrier: 'text',
    send: (data) => {
      if (socket.readyState === WEBSOCKET_OPEN) socket.send(data as string)
      else if (socket.readyState === WEBSOCKET_CONNECTING) held.push(data as string)
    },
    onMessage: (listener) =>
      socket.addEventListener('message', (event) =>
        listener(typeof event.data === 'string' ? event.data : textOf(event.data), NO_PORTS),
      ),
    onClose: closed.set,
    start: () => {},
    close: () => {
      socket.close(1000, 'closed')
      closed.fire()
    },
    bufferedBytes: () => socket.bufferedAmount ?? 0,
  })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Binary frames are accepted only as valid UTF-8 text; anything else becomes undecodable input. */
function textOf(data: unknown): unknown {
  try {
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return utf8.decode(data as ArrayBuffer)
    if (Array.isArray(data)) return utf8.decode(concat(data as Uint8Array[]))
  } catch {
    return undefined
  }
  return data
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

function isPort(value: unknown): value is Port {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Port).onMessage === 'function' &&
    typeof (value as Port).send === 'function'
  )
}

/** A `Port`, or a raw Node or DOM `MessagePort`, which is adapted here. */
export type PortInput = Port | NodeMessagePortLike | DomMessagePortLike

/** Adapts whatever `hub.attach` or `connectBus` was given. */
export function toPort(input: PortInput): Port {
  if (isPort(input)) return input
  const candidate = (typeof input === 'object' && input !== null ? input : {}) as Partial<
    NodeMessagePortLike & DomMessagePortLike
  >
  // Node's MessagePort is also an EventTarget, so tell it apart by its ref/unref.
  if (typeof candidate.on === 'function' && typeof candidate.ref === 'function') {
    return fromNodePort(input as NodeMessagePortLike)
  }
  if (typeof candidate.addEventListener === 'function' && typeof candidate.postMessage === 'function') {
    return fromDomPort(input as DomMessagePortLike)
  }
  throw EventBusError.of('Configuration', {
    reason: `expected a Port, a worker_threads MessagePort or a DOM MessagePort (use fromElectronPort / fromWebSocket for those), got ${kindOf(input)}`,
  })
}

/**
 * What `input` is known by among ports given: the transport's own port (or socket) when it is an
 * adapter made here, else itself.
 */
function transportOf(input: unknown): unknown {
  return wrapped.get(input as Port) ?? input
}

/**
 * The ports one side was given, known by the transport's port: given raw or in an adapter made
 * here, once or in two, it is one (a Port of another making is known by itself). A port carries
 * one connection and is closed when it ends; two readers of one port would both answer every frame
 * that comes on it.
 */
export class PortsGiven {
  private readonly given = new WeakSet<object>()

  /**
   * @throws EventBusError `Configuration` when `input` was given before, saying `to` what (`attach`,
   * `connectBus`) and what to do `instead`
   */
  assertNew(input: unknown, to: string, instead: string): void {
    // A WeakSet answers false for anything that is no object, which cannot have been given.
    if (!this.given.has(transportOf(input) as object)) return
    throw EventBusError.of('Configuration', {
      reason: `${to}: this port was given before (a port carries one connection, and is closed when it ends); ${instead}`,
    })
  }

  /** Remembers `input` as given. */
  add(input: PortInput): void {
    this.given.add(transportOf(input) as object)
  }
}
