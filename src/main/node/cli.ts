/**
 * `npm start` where Electron cannot run: starts the headless host, prints its URLs, and shuts down
 * cleanly on SIGINT or SIGTERM (drains the bus, stops the modules, exits 0).
 *
 * Environment: SKELLY_HTTP_PORT (default 4780, 0 = any), SKELLY_DATA_DIR (default ./.data).
 */
import { join, resolve } from 'node:path'
import { startHeadlessHost } from './headless.js'

const outDir = resolve(import.meta.dirname, '..')
const host = await startHeadlessHost({
  outDir,
  dataDir: resolve(process.env.SKELLY_DATA_DIR ?? join(process.cwd(), '.data')),
  httpPort: Number(process.env.SKELLY_HTTP_PORT ?? 4780),
})

console.log('Skelly-Jelly is running headless (no Electron here).')
console.log(`  app window:  ${host.urls.app}`)
console.log(`  inspector:   ${host.urls.inspector}`)
console.log(`  hub (ws):    ${host.gateway.url}`)
console.log('Press Ctrl+C to stop.')

let signalled = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (signalled) return
    signalled = true
    console.log(`\n${signal}: draining the bus and stopping modules…`)
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error)
        process.exit(1)
      },
    )
  })
}
