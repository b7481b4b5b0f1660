/**
 * Runs one module in an Electron utility process: the main process posts its id and options with
 * a MessagePortMain. Uses only `process.parentPort`, which Electron provides; imports no 'electron'.
 */
import { fromElectronPort } from '../../shared/port.js'
import { moduleDefinitions } from '../index.js'
import { type RunOptions, runModule } from '../lifecycle.js'
import { fatalReport, REPORT_GRACE_MS } from './fatal-report.js'

/** Whether the process is ending already: only the first error, the cause, is reported. */
let failing = false

/** Ends the process on `error`, after telling the main process what it was (see fatal-report). */
function fail(code: number, error: unknown): void {
  console.error(error)
  if (failing) return
  failing = true
  process.parentPort.postMessage(fatalReport(error))
  setTimeout(() => process.exit(code), REPORT_GRACE_MS)
}

// A module's uncaught error (an unhandled rejection too, which Node raises as one) ends it, as it
// would without this listener, but says which error first.
process.on('uncaughtException', (error) => fail(1, error))

process.parentPort.once('message', (event) => {
  const { moduleId, run } = event.data as { moduleId: string; run: RunOptions }
  const definition = moduleDefinitions[moduleId]
  const port = event.ports[0]
  if (definition === undefined || port === undefined) {
    fail(
      2,
      new Error(
        `cannot start module '${moduleId}': ${definition ? 'no port came with it' : 'no such module'}`,
      ),
    )
    return
  }
  runModule(definition, fromElectronPort(port), run).then(
    () => process.exit(0),
    (error: unknown) => fail(1, error),
  )
})
