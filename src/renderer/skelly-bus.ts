/**
 * `window.skellyBus` for renderer code of an application with message types of its own: the same
 * object, typed by the built-in catalog and the application's. The window does not validate those
 * types itself (the page need not load their schemas); the hub does, against its bus's catalog, as
 * it does everything a window sends, so a type the hub lacks is refused there.
 */

import type { SkellyBusApi } from '../preload/skelly-bus.js'
import type { BuiltinCatalog, Catalog } from '../shared/catalog.js'

/**
 * `window.skellyBus`, typed by the built-in catalog and `X`: pass the application's catalog
 * (`skellyBusWith(appCatalog)`) or name its type alone (`skellyBusWith<typeof appCatalog>()`).
 */
export function skellyBusWith<X extends Catalog>(_catalog?: X): SkellyBusApi<BuiltinCatalog & X> {
  // The one place the types are widened: the bridge's object is the same for every catalog.
  return window.skellyBus as unknown as SkellyBusApi<BuiltinCatalog & X>
}
