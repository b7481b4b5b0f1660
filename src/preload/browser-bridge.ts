/**
 * The browser bridge: what the preload is in Electron, for pages served by the headless host. It
 * reads the identity and the WebSocket endpoint the host put in the page's meta tags and provides
 * the same `window.skellyBus`. Loaded as a classic script, so the API exists before page scripts.
 */
import { connectWindowBus } from '../shared/client.js'
import { fromWebSocket } from '../shared/port.js'
import { createWindowApi } from './window-api.js'

function meta(name: string): string {
  const content = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content
  if (!content)
    throw new Error(
      `skelly bridge: the page has no <meta name="${name}"> (is it served by the headless host?)`,
    )
  return content
}

const module = meta('skelly-module')
const endpoint = meta('skelly-endpoint')

window.skellyBus = createWindowApi(module, () =>
  connectWindowBus(fromWebSocket(new WebSocket(endpoint)), { module }),
)
