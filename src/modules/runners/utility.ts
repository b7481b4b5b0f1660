/**
 * Runs one module in an Electron utility process: the main process posts its id and options with
 * a MessagePortMain. Uses only `process.parentPort`, which Electron provides; imports no 'electron'.
 */
import { fromElectronPort } from '../../shared/port.js'
import { moduleDefinitions } from '../index.js'
import { type RunOptions, runModule } from '../lifecycle.js'

process.parentPort.once('message', (event) => {
  const { moduleId, run } = event.data as { moduleId: string; run: RunOptions }
  const definition = moduleDefinitions[moduleId]
  const port = event.ports[0]
  if (definition === undefined || port === undefined) {
    console.error(`cannot start module '${moduleId}'`)
    process.exit(2)
  }
  runModule(definition, fromElectronPort(port), run).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
})
