/**
 * What each dead-letter reason means, in the inspector's words: the reason's name alone does not
 * say why a message that was never tried (no attempts, no last error) ended up here.
 */
import type { DeadLetterReason } from '../../shared/dead-letter.js'

export const REASON_MEANING: Readonly<Record<DeadLetterReason, string>> = {
  MaxRetriesExceeded: 'the handler failed its first attempt and every retry',
  DeliveryTimeout: 'its last attempt did not settle within the delivery timeout',
  SubscriberUnavailable: 'the subscriber’s endpoint went away and was not back within its reconnect grace',
  Shutdown: 'the bus shut down before it was delivered',
  Unsubscribed: 'its subscription ended while it waited',
}
