/**
 * What each dead-letter reason means, in the inspector's words: the reason's name alone does not
 * say why a message that was never tried (no attempts, no last error) ended up here. Short enough
 * for the last-error column (~300 px).
 */
import type { DeadLetterReason } from '../../shared/dead-letter.js'

export const REASON_MEANING: Readonly<Record<DeadLetterReason, string>> = {
  MaxRetriesExceeded: 'failed its first attempt and every retry',
  DeliveryTimeout: 'its last attempt timed out',
  SubscriberUnavailable: 'endpoint away past its reconnect grace',
  Shutdown: 'the bus shut down before delivering it',
  Unsubscribed: 'its subscription ended while it waited',
}
