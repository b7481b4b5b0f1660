/**
 * `npm start` where Electron cannot run: starts the headless host, prints its URLs, and shuts down
 * cleanly on SIGINT or SIGTERM (drains the bus, stops the modules, prints the final accounting,
 * exits 0).
 *
 * Environment: SKELLY_HTTP_PORT (default 4780, 0 = any), SKELLY_DATA_DIR (default ./.data),
 * SKELLY_CAPTURE_RATE (DataCapture events per second, default 10), SKELLY_OUT_DIR (the build
 * output with the pages, default the folder above this file). A setting it does not accept, a
 * port already taken or a data directory another host uses: one line saying so, exit code 1.
 */
import { join } from 'node:path'
import { describeThrown } from '../../shared/errors.js'
import { startFailureLine } from '../host/start-failure.js'
import { type HeadlessHost, startHeadlessHost } from './headless.js'
import { readHostSettings } from './host-environment.js'

/**
 * What went wrong, in one line a user can act on, for the failures a user causes; anything else
 * is a defect, and keeps its stack.
 */
function startFailure(error: unknown, httpPort: number | undefined): string {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
    return `127.0.0.1:${httpPort} is already in use (is Skelly-Jelly already running?): set SKELLY_HTTP_PORT to another port, or 0 for any free one`
  const line = startFailureLine(error)
  if (line !== undefined) return line
  return error instanceof Error ? (error.stack ?? error.message) : describeThrown(error)
}

let host: HeadlessHost
let httpPort: number | undefined
try {
  const settings = readHostSettings(process.env, join(import.meta.dirname, '..'))
  httpPort = settings.httpPort
  host = await startHeadlessHost({
    outDir: settings.outDir,
    dataDir: settings.dataDir,
    httpPort: settings.httpPort,
    moduleOptions: { 'data-capture': { rate: settings.captureRate } },
  })
} catch (error) {
  console.error(`Skelly-Jelly could not start: ${startFailure(error, httpPort)}`)
  process.exit(1)
}

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
