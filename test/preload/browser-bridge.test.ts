// @vitest-environment happy-dom
/**
 * The browser bridge as a page served by the headless host loads it: it reads the identity and the
 * hub's WebSocket endpoint from the page's meta tags, and says which tag is missing on a page the
 * host did not serve. Its connection to a real hub is Playwright's (every headless page uses it).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fakeWebSocket } from '../fixtures/fake-websocket.js'
import { flushMicrotasks } from '../helpers.js'

/** The sockets the bridge opened, each with its URL; none connects until the test opens it. */
let opened: { url: string; socket: ReturnType<typeof fakeWebSocket> }[] = []

/** `new WebSocket(url)` as the bridge calls it: a constructor returning a recording socket. */
function RecordingWebSocket(url: string) {
  const socket = fakeWebSocket(0)
  opened.push({ url, socket })
  return socket
}

function setMeta(tags: Record<string, string>): void {
  document.head.innerHTML = Object.entries(tags)
    .map(([name, content]) => `<meta name="${name}" content="${content}">`)
    .join('')
}

/** Runs the bridge's script afresh, as a page load does. */
async function loadBridge(): Promise<void> {
  vi.resetModules()
  await import('../../src/preload/browser-bridge.js')
}

beforeEach(() => {
  // The first attempt's connect timeout and its retries wait on this clock: none runs here.
  vi.useFakeTimers()
  opened = []
  vi.stubGlobal('WebSocket', RecordingWebSocket)
  Reflect.deleteProperty(window, 'skellyBus')
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.head.innerHTML = ''
})

describe('the browser bridge', () => {
  it('gives the page window.skellyBus, connecting as the module its meta tag names to the endpoint its meta tag names', async () => {
    setMeta({ 'skelly-module': 'cute-figurine', 'skelly-endpoint': 'ws://127.0.0.1:4780/bus' })
    await loadBridge()
    expect(window.skellyBus?.module).toBe('cute-figurine')
    await flushMicrotasks()
    expect(opened.map(({ url }) => url)).toEqual(['ws://127.0.0.1:4780/bus'])
    // The hello, held until the socket opens, names the module.
    const socket = opened[0]?.socket
    expect(socket?.sent).toEqual([])
    if (socket !== undefined) socket.readyState = 1
    socket?.emit('open')
    expect(socket?.sent).toHaveLength(1)
    expect(socket?.sent[0]).toContain('cute-figurine')
  })

  it.each([
    ['skelly-module', { 'skelly-endpoint': 'ws://127.0.0.1:4780/bus' }],
    ['skelly-endpoint', { 'skelly-module': 'cute-figurine' }],
    ['skelly-module', { 'skelly-module': '', 'skelly-endpoint': 'ws://127.0.0.1:4780/bus' }],
  ])(
    'names the missing or empty <meta name="%s"> on a page the host did not serve, and opens nothing',
    async (name, tags) => {
      setMeta(tags)
      await expect(loadBridge()).rejects.toThrow(
        `skelly bridge: the page has no <meta name="${name}"> (is it served by the headless host?)`,
      )
      expect(window.skellyBus).toBeUndefined()
      expect(opened).toEqual([])
    },
  )
})
