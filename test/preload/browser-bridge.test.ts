// @vitest-environment happy-dom
/**
 * The browser bridge as a page served by the headless host loads it: it reads the identity and the
 * hub's WebSocket endpoint from the page's meta tags, and says which tag is missing on a page the
 * host did not serve. Its connection to a real hub is Playwright's (every headless page uses it).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushMicrotasks } from '../helpers.js'

/** A WebSocket that records what the bridge opens and sends, and opens when the test says. */
class RecordingSocket {
  static opened: RecordingSocket[] = []
  readyState = 0
  readonly sent: unknown[] = []
  private readonly onOpen: (() => void)[] = []
  constructor(readonly url: string) {
    RecordingSocket.opened.push(this)
  }
  addEventListener(type: string, listener: () => void): void {
    if (type === 'open') this.onOpen.push(listener)
  }
  send(data: unknown): void {
    this.sent.push(data)
  }
  close(): void {}
  open(): void {
    this.readyState = 1
    for (const listener of this.onOpen) listener()
  }
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
  RecordingSocket.opened = []
  vi.stubGlobal('WebSocket', RecordingSocket)
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
    expect(RecordingSocket.opened.map(({ url }) => url)).toEqual(['ws://127.0.0.1:4780/bus'])
    // The hello, held until the socket opens, names the module.
    RecordingSocket.opened[0]?.open()
    expect(RecordingSocket.opened[0]?.sent).toHaveLength(1)
    expect(String(RecordingSocket.opened[0]?.sent[0])).toContain('cute-figurine')
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
      expect(RecordingSocket.opened).toEqual([])
    },
  )
})
