/** The cross-process hub: attaches endpoints (ports and WebSockets) to the bus. */
export { type Attachment, type AttachOptions, createHub, type Hub, type HubOptions } from './hub.js'
export type { DirectRoute, PortPair, RouteSpec, RouteSpecOf } from './route.js'
export { routeSpecSchema } from './route.js'
