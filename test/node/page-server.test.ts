/**
 * The headless host's page server: pages with their bridge in place, and a build that is missing
 * or partial answered with what to do, never a crash of the host (and the hub in it); its headers,
 * escaping, paths and methods, and nothing served from outside the build.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startPageServer } from '../../src/main/node/http-server.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'
import { afterThisTest } from '../hub/fixture.js'

const freshDir = tempDirsRemovedAfterAll('pages')

async function serve(
  rendererDir: string,
  bridgeScript: string,
  endpoint = 'ws://127.0.0.1:1/?token=t',
  module = 'cute-figurine',
) {
  const server = await startPageServer({
    rendererDir,
    bridgeScript,
    gatewayOrigin: () => 'ws://127.0.0.1:1',
    pages: [
      { path: '/', file: 'index.html', module, endpoint: () => endpoint },
      { path: '/inspector', file: 'inspector.html', module: 'inspector', endpoint: () => endpoint },
    ],
  })
  afterThisTest(() => server.close())
  const get = async (path: string) => {
    const response = await fetch(`${server.origin}${path}`)
    return { status: response.status, text: await response.text() }
  }
  /** A GET as written, with the `Host` header given: fetch normalizes paths and sets its own host. */
  const send = (path: string, host = new URL(server.origin).host) =>
    new Promise<{ status: number | undefined; text: string }>((resolve, reject) => {
      const { port } = new URL(server.origin)
      const outgoing = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          text += chunk
        })
        response.on('end', () => resolve({ status: response.statusCode, text }))
      })
      outgoing.on('error', reject)
      outgoing.end()
    })
  const fetched = (path: string, init?: RequestInit) => fetch(`${server.origin}${path}`, init)
  return { get, send, fetched, origin: server.origin, origins: server.origins }
}

describe('the page server', () => {
  it('serves a page with its bridge in place, the bridge script and assets', async () => {
    const out = await freshDir()
    await mkdir(join(out, 'renderer', 'assets'), { recursive: true })
    await writeFile(join(out, 'renderer', 'index.html'), '<head><!-- skelly-bridge --></head>')
    await writeFile(join(out, 'renderer', 'assets', 'app.js'), 'export {}')
    await writeFile(join(out, 'bridge.js'), '/* bridge */')
    const { get } = await serve(join(out, 'renderer'), join(out, 'bridge.js'))
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.text).toContain('<meta name="skelly-module" content="cute-figurine">')
    expect(page.text).toContain('<script src="/__skelly/bridge.js"></script>')
    expect(await get('/__skelly/bridge.js')).toEqual({ status: 200, text: '/* bridge */' })
    expect(await get('/assets/app.js')).toEqual({ status: 200, text: 'export {}' })
    expect((await get('/assets/none.js')).status).toBe(404)
    expect((await get('/../bridge.js')).status).toBe(404)
  })

  it('says the pages are not built, and keeps serving, when the build is missing', async () => {
    const out = join(await freshDir(), 'out')
    const { get } = await serve(join(out, 'renderer'), join(out, 'bridge', 'skelly-bridge.js'))
    // The bridge script used to be streamed with no error listener: its missing file ended the
    // process, the hub and every module with it.
    const bridge = await get('/__skelly/bridge.js')
    expect(bridge.status).toBe(503)
    expect(bridge.text).toBe(
      `${join(out, 'bridge', 'skelly-bridge.js')} is missing: the pages are not built (run npm run build)`,
    )
    const page = await get('/')
    expect(page.status).toBe(503)
    expect(page.text).toContain('the pages are not built (run npm run build)')
    expect((await get('/assets/app.js')).status).toBe(404)
  })

  it('answers 500 with the reason for a page that is there but cannot be read', async () => {
    const renderer = await freshDir()
    await mkdir(join(renderer, 'index.html')) // a directory where the page should be
    const { get } = await serve(renderer, join(renderer, 'bridge.js'))
    expect(await get('/')).toEqual({
      status: 500,
      text: 'error: EISDIR: illegal operation on a directory, read',
    })
    expect((await get('/__skelly/bridge.js')).status).toBe(503)
  })

  it('answers only under its own address, so a rebound host name cannot read the pages', async () => {
    const out = await freshDir()
    await writeFile(join(out, 'index.html'), '<head><!-- skelly-bridge --></head>')
    const { send, origin, origins } = await serve(out, join(out, 'bridge.js'))
    const { port } = new URL(origin)
    expect(origins).toEqual([`http://127.0.0.1:${port}`, `http://localhost:${port}`])
    // A remote page whose own name resolves to 127.0.0.1 (DNS rebinding) sends that name as Host.
    const rebound = await send('/', `attacker.example:${port}`)
    expect(rebound).toEqual({
      status: 421,
      text: `this server answers only as 127.0.0.1:${port} or localhost:${port}, not 'attacker.example:${port}'`,
    })
    expect(rebound.text).not.toContain('token')
    expect((await send('/', `localhost:${port}`)).status).toBe(200)
    expect((await send('/')).text).toContain('ws://127.0.0.1:1/?token=t')
  })

  it('answers a malformed escape with 400, and serves on', async () => {
    const out = await freshDir()
    await writeFile(join(out, 'index.html'), '<head><!-- skelly-bridge --></head>')
    const { send } = await serve(out, join(out, 'bridge.js'))
    // decodeURIComponent throws on it: the answer was a 500 with the URIError's text.
    expect(await send('/assets/%E0%A4%A.js')).toEqual({
      status: 400,
      text: 'malformed URL: a % escape is not valid UTF-8',
    })
    expect((await send('/')).status).toBe(200)
  })

  it('sends each page and file with a type, no caching, no sniffing, and a policy that lets the page reach only itself and the gateway', async () => {
    const out = await freshDir()
    await mkdir(join(out, 'assets'))
    await writeFile(join(out, 'index.html'), '<head><!-- skelly-bridge --></head>')
    await writeFile(join(out, 'assets', 'app.js'), 'export {}')
    await writeFile(join(out, 'assets', 'data.bin'), 'bytes')
    const { fetched } = await serve(out, join(out, 'bridge.js'))
    for (const [path, type] of [
      ['/', 'text/html; charset=utf-8'],
      ['/assets/app.js', 'text/javascript; charset=utf-8'],
      ['/assets/data.bin', 'application/octet-stream'],
    ] as const) {
      const { headers } = await fetched(path)
      expect(Object.fromEntries(headers), path).toMatchObject({
        'content-type': type,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'content-security-policy': expect.stringContaining("connect-src 'self' ws://127.0.0.1:1"),
      })
    }
  })

  it('escapes what it writes into a page’s attributes', async () => {
    const out = await freshDir()
    await writeFile(join(out, 'index.html'), '<head><!-- skelly-bridge --></head>')
    const { get } = await serve(out, join(out, 'bridge.js'), 'ws://127.0.0.1:1/?token=a&b"<c', 'm"<&')
    const { text } = await get('/')
    expect(text).toContain('<meta name="skelly-module" content="m&quot;&lt;&amp;">')
    expect(text).toContain(
      '<meta name="skelly-endpoint" content="ws://127.0.0.1:1/?token=a&amp;b&quot;&lt;c">',
    )
  })

  it('serves nothing outside the build, nor a folder, however the path is written', async () => {
    const out = await freshDir()
    await mkdir(join(out, 'renderer', 'assets'), { recursive: true })
    await writeFile(join(out, 'secret.txt'), 'secret')
    const { send } = await serve(join(out, 'renderer'), join(out, 'bridge.js'))
    // fetch would resolve these dot segments itself; an encoded slash keeps them for the server.
    for (const path of ['/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt'])
      expect(await send(path), path).toEqual({ status: 404, text: 'not found' })
    expect(await send('/assets')).toEqual({ status: 404, text: 'not found' })
  })

  it('serves a page under its file’s name too, sends a path with a trailing slash to the page, and takes only GET and HEAD', async () => {
    const out = await freshDir()
    await writeFile(join(out, 'index.html'), '<head><!-- skelly-bridge --></head>')
    await writeFile(join(out, 'inspector.html'), '<head><!-- skelly-bridge --></head>')
    const { fetched } = await serve(out, join(out, 'bridge.js'))
    expect(await (await fetched('/index.html')).text()).toContain(
      '<meta name="skelly-module" content="cute-figurine">',
    )
    const slashed = await fetched('/inspector/', { redirect: 'manual' })
    expect([slashed.status, slashed.headers.get('location')]).toEqual([301, '/inspector'])
    const head = await fetched('/inspector', { method: 'HEAD' })
    expect([head.status, await head.text()]).toEqual([200, ''])
    const post = await fetched('/', { method: 'POST', body: 'x' })
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
  })

  it('quotes at most 80 characters of a Host it refuses', async () => {
    const out = await freshDir()
    const { send } = await serve(out, join(out, 'bridge.js'))
    const { text } = await send('/', `${'a'.repeat(200)}.example`)
    expect(text).toMatch(new RegExp(`, not '${'a'.repeat(80)}'$`))
  })
})
