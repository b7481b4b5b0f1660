/**
 * Serves the built renderer pages on loopback for the headless host, with the browser bridge in
 * place of the preload: each page gets its identity and its WebSocket endpoint (token included) as
 * meta tags, and the bridge script that turns them into `window.skellyBus`.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, sep } from 'node:path'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
}

/** A page and what the bridge on it needs. */
export interface ServedPage {
  /** URL path, e.g. '/' or '/inspector'. */
  path: string
  /** File in the renderer build. */
  file: string
  module: string
  /** ws://…?token=… for this page's identity. */
  endpoint: () => string
}

export interface PageServerOptions {
  rendererDir: string
  bridgeScript: string
  pages: ServedPage[]
  /** Origin of the WebSocket gateway, for the pages' Content-Security-Policy. */
  gatewayOrigin: () => string
  port?: number
}

export interface PageServer {
  /** Where its pages are, as the host prints them: `http://127.0.0.1:PORT`. */
  readonly origin: string
  /** Every origin its pages can have: the same port as 127.0.0.1 and as localhost. */
  readonly origins: readonly string[]
  close(): Promise<void>
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT'

/** A plain-text answer: an error, or what to do about it. */
function answer(response: ServerResponse, status: number, text: string) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  response.end(text)
}

function failed(error: unknown, response: ServerResponse) {
  const text = `error: ${(error as Error).message}`
  if (response.headersSent) response.end(text)
  else answer(response, 500, text)
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}

export async function startPageServer(options: PageServerOptions): Promise<PageServer> {
  const root = normalize(options.rendererDir)
  const pages = new Map(
    options.pages.flatMap((page) => [
      [page.path, page],
      [`/${page.file}`, page],
    ]),
  )

  function headers(type: string): Record<string, string> {
    return {
      'content-type': type,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ${options.gatewayOrigin()}`,
    }
  }

  async function servePage(page: ServedPage, response: ServerResponse) {
    const file = join(root, page.file)
    const html = await readFile(file, 'utf8').catch((error: unknown) => {
      if (isMissing(error)) return undefined
      throw error // answered 500 with its message
    })
    if (html === undefined) return notBuilt(file, response)
    const bridge =
      `<meta name="skelly-module" content="${escapeAttribute(page.module)}">` +
      `<meta name="skelly-endpoint" content="${escapeAttribute(page.endpoint())}">` +
      '<script src="/__skelly/bridge.js"></script>'
    response.writeHead(200, headers(CONTENT_TYPES['.html'] as string))
    response.end(html.replace('<!-- skelly-bridge -->', bridge))
  }

  async function serveFile(path: string, response: ServerResponse) {
    const file = normalize(join(root, path))
    if (!file.startsWith(root + sep)) return notFound(response)
    const info = await stat(file).catch(() => undefined)
    if (!info?.isFile()) return notFound(response)
    streamFile(file, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', response, () =>
      notFound(response),
    )
  }

  /**
   * Streams `file` as `type`; one that does not exist is answered by `missing`, another that
   * cannot be read with 500. A read stream's error with no listener would be thrown, and end the
   * host with every module on it.
   */
  function streamFile(file: string, type: string, response: ServerResponse, missing: () => void) {
    const stream = createReadStream(file)
    stream.once('error', (error) => {
      if (response.headersSent) response.destroy(error)
      else if (isMissing(error)) missing()
      else failed(error, response)
    })
    stream.once('open', () => {
      response.writeHead(200, headers(type))
      stream.pipe(response)
    })
  }

  function notFound(response: ServerResponse) {
    answer(response, 404, 'not found')
  }

  /** A page or the bridge is not in the build: whoever opens the page is told what to do. */
  function notBuilt(file: string, response: ServerResponse) {
    answer(response, 503, `${file} is missing: the pages are not built (run npm run build)`)
  }

  /**
   * The `Host` headers this server answers: its own loopback address and port. A page reached under
   * any other name could be a DNS-rebinding attack, a remote site that made its own name point at
   * 127.0.0.1 to read the pages (and the WebSocket tokens in them) as same-origin content.
   */
  let ownHosts: ReadonlySet<string> = new Set()

  /** The request's path, decoded; undefined for a malformed escape such as `%E0%A4`. */
  function pathOf(request: IncomingMessage): string | undefined {
    try {
      return decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname)
    } catch {
      return undefined
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    if (!ownHosts.has(request.headers.host ?? '')) {
      return answer(
        response,
        421,
        `this server answers only as ${[...ownHosts].join(' or ')}, not '${(request.headers.host ?? '').slice(0, 80)}'`,
      )
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' })
      return response.end()
    }
    const path = pathOf(request)
    if (path === undefined) return answer(response, 400, 'malformed URL: a % escape is not valid UTF-8')
    if (path.length > 1 && path.endsWith('/') && pages.has(path.slice(0, -1))) {
      // Pages use relative asset paths, which resolve correctly only without the trailing slash.
      response.writeHead(301, { location: path.slice(0, -1) })
      return response.end()
    }
    const page = pages.get(path)
    if (page !== undefined) return servePage(page, response)
    if (path === '/__skelly/bridge.js') {
      return streamFile(options.bridgeScript, CONTENT_TYPES['.js'] as string, response, () =>
        notBuilt(options.bridgeScript, response),
      )
    }
    return serveFile(path, response)
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => failed(error, response))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  ownHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`])
  return {
    origin: `http://127.0.0.1:${port}`,
    origins: [...ownHosts].map((host) => `http://${host}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
