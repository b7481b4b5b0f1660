/**
 * `npm start` where Electron cannot run: starts the headless host, prints its URLs, and shuts down
 * cleanly on SIGINT or SIGTERM (drains the bus, stops the modules, prints the final accounting,
 * exits 0).
 *
 * Environment: SKELLY_HTTP_PORT (default 4780, 0 = any), SKELLY_DATA_DIR (default ./.data),
 * SKELLY_CAPTURE_RATE (DataCapture events per second, default 10), SKELLY_OUT_DIR (the build
 * output with the pages, default the folder above this file).
 */
import { join, resolve } from 'node:path'
import { startHeadlessHost } from './headless.js'

const rate = Number(process.env.SKELLY_CAPTURE_RATE ?? 10)
const host = await startHeadlessHost({
  outDir: resolve(process.env.SKELLY_OUT_DIR ?? join(import.meta.dirname, '..')),
  dataDir: resolve(process.env.SKELLY_DATA_DIR ?? join(process.cwd(), '.data')),
  httpPort: Number(process.env.SKELLY_HTTP_PORT ?? 4780),
  moduleOptions: { 'data-capture': { rate } },
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
    host
      .stop()
      .then(() => host.bus.metrics())
      .then(
        (m) => {
          const routed =
            m.messagesDelivered + m.messagesDropped + m.messagesCoalesced + m.messagesDeadLettered
          console.log(
            `stopped: published ${m.messagesPublished}, delivered ${m.messagesDelivered}, dropped ${m.messagesDropped}, ` +
              `coalesced ${m.messagesCoalesced}, dead-lettered ${m.messagesDeadLettered} (kept in dead-letters.jsonl), ` +
              `accounted ${routed}, still queued ${m.currentQueueDepth}, in flight ${m.inFlight}`,
          )
          process.exit(0)
        },
        (error: unknown) => {
          console.error(error)
          process.exit(1)
        },
      )
  })
}
