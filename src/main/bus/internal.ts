/**
 * What the hub (and only the hub) needs from the bus beyond its public API: subscriptions whose
 * handler runs behind a port, which can be parked while their endpoint is away and resumed when
 * it returns, and a tap on routed messages for the inspector's tail. Reached through a symbol so
 * it stays out of the public surface.
 */

import type { DeadLetterReason } from '../../shared/dead-letter.js'
import type { DeliveryMode } from '../../shared/delivery-mode.js'
import type { PlainFilter } from '../../shared/filter.js'
import type { Envelope } from '../../shared/message.js'
import type { MessageHandler, Subscription } from './subscription.js'

export const busInternals: unique symbol = Symbol('skelly.bus.internals')

export interface RemoteSubscriptionOptions {
  /** Deliveries sent to the endpoint and not yet acknowledged (its credit window). */
  maxInFlight: number
  /** The hub-side bound on an unacknowledged delivery (the endpoint enforces the handler's own). */
  timeoutMs: number
}

/** Called for every accepted publish with the number of subscriptions it was routed to. */
export type RouteTap = (message: Envelope, routedTo: number) => void

export interface BusInternals {
  /** `publish` without the promise: returns the id or throws the EventBusError. */
  publish(message: Envelope): string
  subscribeRemote(
    module: string,
    filter: PlainFilter,
    mode: DeliveryMode,
    handler: MessageHandler,
    options: RemoteSubscriptionOptions,
  ): Subscription
  /** Ends a subscription: what it holds is dead-lettered with `reason` (Reliable) or dropped. */
  end(subscription: Subscription, reason: DeadLetterReason): void
  /** Sets (or clears) the one tap on accepted publishes. */
  setRouteTap(tap: RouteTap | undefined): void
}

export interface WithInternals {
  readonly [busInternals]: BusInternals
}
