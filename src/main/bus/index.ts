/**
 * The Skelly-Jelly event bus core: the public API of BUS-API.md. Runtime-neutral: it imports
 * nothing from Electron, no Node built-in and no DOM.
 */
export * from '../../shared/catalog.js'
export * from '../../shared/dead-letter.js'
export * from '../../shared/delivery-mode.js'
export * from '../../shared/errors.js'
export * from '../../shared/filter.js'
export * from '../../shared/json.js'
export * from '../../shared/message.js'
export * from '../../shared/metrics-snapshot.js'
export * from '../../shared/registry-types.js'
export type { RequestReply } from '../../shared/request-reply.js'
export { DEFAULT_REPLY_TIMEOUT_MS, type RequestOptions, requestOptionsSchema } from '../../shared/requests.js'
export { type Answer, type RespondOptions, respondOptionsSchema } from '../../shared/responder.js'
export {
  configFromEnvironment,
  type EventBusConfig,
  type EventBusConfigInput,
  eventBusConfigSchema,
  resolveConfig,
} from './config.js'
export type { DeadLetters } from './dead-letter-commands.js'
export type { DeadLetterPersistence } from './dead-letters.js'
export {
  type BusState,
  createEventBus,
  createEventBusWithConfig,
  type EventBus,
  type EventBusOptions,
} from './event-bus.js'
export { type HealthSummary, ModuleRegistry } from './registry.js'
export type { MessageHandler } from './subscription.js'
