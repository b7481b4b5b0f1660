/**
 * Runtime-neutral code shared by the main process, preloads, workers, renderers and outside
 * processes: the catalog, messages, filters, errors, the port adapters and the endpoint client.
 */
export * from './catalog.js'
export {
  type BusClient,
  type ClientHandler,
  type ConnectOptions,
  connectBus,
  type RemoteDeadLetters,
} from './client.js'
export * from './dead-letter.js'
export * from './delivery-mode.js'
export * from './errors.js'
export * from './filter.js'
export * from './json.js'
export * from './message.js'
export * from './metrics-snapshot.js'
export {
  type DomMessagePortLike,
  type ElectronMessagePortLike,
  fromDomPort,
  fromElectronPort,
  fromNodePort,
  fromWebSocket,
  type NodeMessagePortLike,
  type Port,
  type PortCarrier,
  type PortInput,
  type WebSocketLike,
} from './port.js'
export * from './registry-types.js'
export type { RequestReply } from './request-reply.js'
export { DEFAULT_REPLY_TIMEOUT_MS, type RequestOptions, requestOptionsSchema } from './requests.js'
export { type Answer, type RespondOptions, respondOptionsSchema } from './responder.js'
export { MAX_LABEL_LENGTH, type SubscribeOptions, subscribeOptionsSchema } from './subscribe-arguments.js'
export {
  type Permissions,
  type PermissionsOf,
  PROTOCOL_VERSION,
  permissionsSchema,
  type TailEntry,
} from './wire.js'
