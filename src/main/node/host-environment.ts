/**
 * The headless host's settings from its environment, each checked as it is read (see
 * shared/environment): SKELLY_HTTP_PORT, SKELLY_DATA_DIR, SKELLY_CAPTURE_RATE, SKELLY_OUT_DIR.
 */
import { join, resolve } from 'node:path'
import { type Environment, readIntegerVariable } from '../../shared/environment.js'
import { readCaptureRate } from '../host/capture-rate.js'

export interface HostSettings {
  /** Where the pages are served (127.0.0.1); 0 picks a free port. */
  readonly httpPort: number
  /** Where Storage and the dead-letter log write. */
  readonly dataDir: string
  /** DataCapture's synthetic events per second. */
  readonly captureRate: number
  /** The build output holding the pages. */
  readonly outDir: string
}

export const DEFAULT_HTTP_PORT = 4780

/**
 * @param defaultOutDir the build output next to the running host
 * @throws EventBusError `Configuration` naming the first variable set to something it does not accept
 */
export function readHostSettings(env: Environment, defaultOutDir: string, cwd = process.cwd()): HostSettings {
  return {
    httpPort: readIntegerVariable(env, 'SKELLY_HTTP_PORT', 0, 65_535) ?? DEFAULT_HTTP_PORT,
    dataDir: resolve(cwd, env.SKELLY_DATA_DIR?.trim() || join(cwd, '.data')),
    captureRate: readCaptureRate(env),
    outDir: resolve(cwd, env.SKELLY_OUT_DIR?.trim() || defaultOutDir),
  }
}
