import type { Envelope } from './message.js'

/**
 * Freezes a message's envelope and payload, as every handler gets them, in process and at an
 * endpoint (where one decoded message may reach several subscriptions). Its data is not deep-frozen.
 */
export function freezeEnvelope(message: Envelope): void {
  if (!Object.isFrozen(message)) Object.freeze(message)
  if (!Object.isFrozen(message.payload)) Object.freeze(message.payload)
}
