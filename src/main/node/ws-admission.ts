/**
 * What of a gateway connection's input reaches the hub: messages within the connection's rate
 * budget, while it is open, read only while the peer keeps up with what the hub sends it. The
 * close codes of the gateway's refusals live here too, the flood's among them.
 */
import { WebSocket } from 'ws'
import { monotonicMs } from '../../shared/clock.js'
import { unrefTimer } from '../../shared/peer-timers.js'
import type { WebSocketLike } from '../../shared/port.js'

/** Close codes of each refusal (see docs/protocol.md). */
export const CloseCode = {
  /** ws closes with 1009 itself when a frame is over `maxPayloadBytes`. */
  MessageTooBig: 1009,
  Unauthorized: 4401,
  OriginNotAllowed: 4403,
  RateLimited: 4429,
} as const

/** A per-second budget of inbound messages. */
class RateLimit {
  private windowStart = monotonicMs()
  private count = 0

  constructor(private readonly perSecond: number) {}

  /** Counts one message; false once the budget of the current second is spent. */
  allow(): boolean {
    const now = monotonicMs()
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
 * `socket` as the hub reads it: a message goes on only while the socket is open and within its
 * budget of `maxMessagesPerSecond`. The first over the budget closes it (4429), and neither it nor
 * any the sender goes on sending, ignoring the close, reaches the hub. Reading pauses while the
 * peer leaves what it was sent unread.
 */
export function admitted(socket: WebSocket, maxMessagesPerSecond: number): WebSocketLike {
  const limit = new RateLimit(maxMessagesPerSecond)
  const pauseIfUnread = pauserOf(socket)
  return admitting(socket, () => {
    if (socket.readyState !== WebSocket.OPEN) return false
    if (limit.allow()) {
      pauseIfUnread()
      return true
    }
    socket.close(CloseCode.RateLimited, `more than ${maxMessagesPerSecond} messages per second`)
    return false
  })
}
