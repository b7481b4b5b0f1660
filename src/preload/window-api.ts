/**
 * Builds `window.skellyBus` on top of an endpoint client, for the preload and the browser bridge
 * alike. It reconnects by itself when the connection drops and subscribes again with the same
 * filter and mode (and answers again as it did), asking for each subscription it had by its id, so
 * Reliable subscriptions resume where they were (held messages first).
 */

import { publishAgain, resuming, type Subscriber } from '../shared/client.js'
import type {
  DeliveryMode,
  Envelope,
  PlainFilter,
  PublishOptions,
  SubscribeOptions,
} from '../shared/index.js'
import { type BusClient, EventBusError, isEventBusError, toRejectionIssues } from '../shared/index.js'
import { notifyAll, notifyEachOwnCopy } from '../shared/listeners.js'
import { BusMessage, publishOptionsSchema } from '../shared/message.js'
import { publishRequest, Requests } from '../shared/requests.js'
import { FanOutStream } from './fan-out-stream.js'
import type { ConnectionState, SkellyBusApi, SkellyBusError } from './skelly-bus.js'

/** A subscription of this window (a plain one, or one that answers requests), kept across connections. */
interface LocalSubscription {
  /**
   * Makes it with `subscriber` (the first connection's client, then each one's after a reconnect,
   * resuming the remote subscription it had): the remote id.
   */
  attach(subscriber: Subscriber): Promise<string>
  /** Its id at the hub, on the open connection (or the one that dropped, until it is made again). */
  remoteId: string
}

const RECONNECT_INITIAL_MS = 250
const RECONNECT_MAX_MS = 5000

/**
 * Every rejection is a plain object with the error's kind, fields and message (it crosses the
 * context bridge); a failure that is no bus error (the connection could not be made) is reported
 * as `Disconnected`, its message written as every bus error's is, starting with its kind.
 */
function plainError(error: unknown): SkellyBusError {
  const busError =
    error instanceof EventBusError
      ? error
      : EventBusError.of('Disconnected', { reason: error instanceof Error ? error.message : String(error) })
  return { ...busError.toData(), message: busError.message }
}

function plain<T>(run: () => Promise<T>): Promise<T> {
  return run().catch((error: unknown) => Promise.reject(plainError(error)))
}

/**
 * `publish`'s options, none when absent or null. A misspelt key is refused rather than ignored:
 * `{ prority: 3 }` would otherwise publish at Normal without a word.
 * @throws EventBusError `MessageRejected` naming what is wrong
 */
function publishOptions(options: unknown): PublishOptions {
  if (options === undefined || options === null) return {}
  const parsed = publishOptionsSchema.safeParse(options)
  if (parsed.success) return parsed.data
  throw EventBusError.of('MessageRejected', {
    reason: 'publish options are { priority?: 0 to 3, correlationId?: string }',
    issues: toRejectionIssues(parsed.error),
  })
}

/** The keys of `request`'s options that shape its envelope, as `publish`'s options do. */
const ENVELOPE_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(publishOptionsSchema.shape))

/** `request(type, data, options)`'s options, parted into the envelope's and the request's own. */
function partRequestOptions(options: unknown): { envelope: unknown; request: unknown } {
  // Anything but an object is the request's options to refuse.
  if (typeof options !== 'object' || options === null) return { envelope: undefined, request: options }
  const envelope: Record<string, unknown> = {}
  const request: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options))
    (ENVELOPE_OPTION_KEYS.has(key) ? envelope : request)[key] = value
  return { envelope, request }
}

export function createWindowApi(module: string, connect: () => Promise<BusClient>): SkellyBusApi {
  const subscriptions = new Map<string, LocalSubscription>()
  // One stream per connection fans out to every listener of this window.
  const metrics: FanOutStream<BusClient, Parameters<SkellyBusApi['onMetrics']>[0]> = new FanOutStream(
    'metrics',
    (client) => client.onMetrics((snapshot) => notifyEachOwnCopy(metrics.listeners, 'metrics', snapshot)),
  )
  const tail: FanOutStream<BusClient, Parameters<SkellyBusApi['onTail']>[0]> = new FanOutStream(
    'tail',
    (client) =>
      client.onTail((entries, sampled) => notifyEachOwnCopy(tail.listeners, 'tail', entries, sampled)),
  )
  const connectionListeners = new Set<(state: ConnectionState) => void>()
  let state: ConnectionState = 'connecting'
  let nextLocalId = 1
  let current: Promise<BusClient>
  /** The client while the connection is open (what `current` resolved to), for calls that must not wait a tick. */
  let connected: BusClient | undefined

  function setState(next: ConnectionState) {
    state = next
    notifyAll(connectionListeners, 'connection', next)
  }

  async function establish(attempt: number): Promise<BusClient> {
    try {
      const client = await connect()
      for (const subscription of subscriptions.values())
        subscription.remoteId = await subscription.attach(client[resuming](subscription.remoteId))
      await Promise.all([metrics.connectedTo(client), tail.connectedTo(client)])
      client.onClose(() => {
        connected = undefined
        void metrics.connectedTo(undefined)
        void tail.connectedTo(undefined)
        setState('reconnecting')
        current = establish(0)
      })
      connected = client
      setState('open')
      return client
    } catch (error) {
      if (error instanceof EventBusError && error.kind === 'Unauthorized') {
        setState('closed')
        throw error
      }
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** attempt)
      await new Promise((resolve) => setTimeout(resolve, delay))
      return establish(attempt + 1)
    }
  }
  current = establish(0)

  /**
   * Keeps a subscription of this window made by `attach`, made now on the open connection; its
   * errors are thrown as they are (the API's methods make them plain). Should the connection drop
   * before the hub's answer came, it is made on the next: a Reliable one the hub made and parked
   * is taken back then (by filter and mode: the window never learnt its id), not left to end with
   * the grace, its backlog dead-lettered.
   */
  async function addSubscription(attach: LocalSubscription['attach']): Promise<string> {
    const local: LocalSubscription = { attach, remoteId: await acrossDrops(await current, attach, attach) }
    const id = `${module}-sub-${nextLocalId++}`
    subscriptions.set(id, local)
    return id
  }

  function subscribeWindow(
    filter: PlainFilter,
    mode: DeliveryMode,
    handler: (message: Envelope) => unknown,
    options: SubscribeOptions | undefined,
  ) {
    return addSubscription((client) => client.subscribe(module, filter, mode, handler, options))
  }

  /**
   * Runs `first` on `client`; should its connection drop before the hub's answer came, runs
   * `again` on the next connection (waiting for it), and so on.
   */
  async function acrossDrops<T>(
    client: BusClient,
    first: (client: BusClient) => Promise<T>,
    again: (client: BusClient) => Promise<T>,
  ): Promise<T> {
    let call = first
    for (;;) {
      try {
        return await call(client)
      } catch (error) {
        if (!isEventBusError(error, 'Disconnected') || client.isOpen) throw error
        client = await current
        call = again
      }
    }
  }

  /**
   * Publishes on the open connection (waiting for one while the window reconnects). Should the
   * connection drop before the hub's answer came, whether the hub took the message is unknown: it
   * goes again on the next connection, marked so that the hub takes it only if it had not.
   */
  async function publishMessage(message: Envelope): Promise<string> {
    return acrossDrops(
      await current,
      (client) => client.publish(message as never),
      (client) => client[publishAgain](message),
    )
  }

  /**
   * Unsubscribes what `local` (taken out of `subscriptions`) holds on the open connection, before
   * any await if there is one. With the connection down, or should it drop first, it asks on the
   * next, for the id `local` holds by then: the one it had, which the hub ends as unsubscribed if
   * it parked it (a Reliable one) or knows no more (it ended with the connection); or, if `local`
   * was being made again as it was unsubscribed, the id it was made with.
   */
  function unsubscribeRemote(local: LocalSubscription): Promise<void> {
    const unsubscribe = (client: BusClient) => client.unsubscribe(local.remoteId)
    const again = async (client: BusClient) => {
      await unsubscribe(client).catch((error: unknown) => {
        if (!isEventBusError(error, 'SubscriptionNotFound')) throw error
      })
    }
    if (connected !== undefined) return acrossDrops(connected, unsubscribe, again)
    return current.then((client) => acrossDrops(client, again, again))
  }

  /** The envelope the bridge builds for `publish(type, data, options)` and `request`. */
  function envelopeFor(type: string, data: unknown, options: unknown): Envelope {
    const { priority = 1, correlationId } = publishOptions(options)
    const message = BusMessage.withPriority(module, { type, data }, priority)
    return correlationId === undefined ? message : Object.freeze({ ...message, correlationId })
  }

  // Its subscriptions are the window's own, so they come back after a reconnect like the others.
  const requests = new Requests(
    {
      subscribe: (_module, filter, mode, handler, options) => subscribeWindow(filter, mode, handler, options),
      [publishRequest]: async (message, from) => (await current)[publishRequest](message, from),
    },
    () => module,
  )

  function publish(typeOrMessage: string | Envelope, data?: unknown, options?: unknown): Promise<string> {
    return plain(async () =>
      publishMessage(
        typeof typeOrMessage === 'string' ? envelopeFor(typeOrMessage, data, options) : typeOrMessage,
      ),
    )
  }

  function request(typeOrMessage: string | Envelope, dataOrOptions: unknown, options?: unknown) {
    return plain(async () => {
      if (typeof typeOrMessage !== 'string') return requests.request(typeOrMessage, dataOrOptions)
      const parted = partRequestOptions(options)
      return requests.request(envelopeFor(typeOrMessage, dataOrOptions, parted.envelope), parted.request)
    })
  }

  return {
    module,
    publish: publish as SkellyBusApi['publish'],
    request: request as SkellyBusApi['request'],
    // The endpoint client checks the options, the answer and the grants before subscribing.
    respond: (requestType, options, answer) =>
      plain(() => addSubscription((client) => client.respond(module, requestType, options, answer as never))),
    subscribe: (filter, mode, handler, options) =>
      plain(() => subscribeWindow(filter, mode, handler as (message: Envelope) => unknown, options)),
    unsubscribe: (subscriptionId) =>
      plain(async () => {
        const local = subscriptions.get(subscriptionId)
        if (local === undefined) throw EventBusError.of('SubscriptionNotFound', { subscriptionId })
        subscriptions.delete(subscriptionId)
        // Called before any await on an open connection, so delivery stops at once, as in process:
        // a handler settling in the meantime would otherwise start the next delivery.
        await unsubscribeRemote(local)
      }),
    onConnection(listener) {
      connectionListeners.add(listener)
      listener(state)
      return () => connectionListeners.delete(listener)
    },
    metrics: () => plain(async () => (await current).metrics()),
    metricsHistory: () => plain(async () => (await current).metricsHistory()),
    onMetrics: (listener) => metrics.add(listener),
    onTail: (listener) => tail.add(listener),
    deadLetters: {
      list: (filter) => plain(async () => (await current).deadLetters.list(filter)),
      replay: (selector) => plain(async () => (await current).deadLetters.replay(selector)),
      purge: (selector) => plain(async () => (await current).deadLetters.purge(selector)),
    },
  }
}
