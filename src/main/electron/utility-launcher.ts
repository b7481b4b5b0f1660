/** Launches modules as Electron utility processes, each with a MessagePortMain to the hub. */
import { join } from 'node:path'
import { MessageChannelMain, utilityProcess } from 'electron'
import { reportedFatal } from '../../modules/runners/fatal-report.js'
import { fromElectronPort } from '../../shared/port.js'
import { type ModuleLauncher, type ProcessExit, processExit } from '../host/supervisor.js'

export const launchUtilityProcess: ModuleLauncher = (moduleId, run) => {
  const { port1, port2 } = new MessageChannelMain()
  const child = utilityProcess.fork(join(import.meta.dirname, 'module-utility.js'), [], {
    serviceName: `skelly-${moduleId}`,
    stdio: 'inherit',
  })
  child.postMessage({ moduleId, run }, [port2])
  // A fatal error is followed by 'exit', which the supervisor acts on; unheard, the 'error' event
  // would throw in the main process. The first error heard is what the process died of: what
  // follows comes of it.
  let error: string | undefined
  child.on('error', (type, location) => {
    const fatal = `${type} at ${location}`
    console.error(`[${moduleId}] ${fatal}`)
    error ??= fatal
  })
  // A module that throws says which error before it exits (modules/runners/utility.ts).
  child.on('message', (message) => {
    error ??= reportedFatal(message)
  })
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once('exit', (code) => resolve(processExit(code, error))),
  )
  return {
    port: fromElectronPort(port1),
    exited,
    kill: async () => {
      child.kill()
      await exited
    },
  }
}
