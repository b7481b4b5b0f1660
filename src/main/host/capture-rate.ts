/**
 * DataCapture's pace in both hosts: `SKELLY_CAPTURE_RATE` synthetic events per second (10 unless
 * set), read once as a host starts.
 */
import { DEFAULT_CAPTURE_RATE } from '../../modules/options.js'
import { currentEnvironment, type Environment, readPositiveVariable } from '../../shared/environment.js'

/**
 * @throws EventBusError `Configuration` for a value that is not a number above 0 and up to 100,000
 */
export function readCaptureRate(env: Environment = currentEnvironment()): number {
  return (
    readPositiveVariable(env, 'SKELLY_CAPTURE_RATE', 100_000, 'events per second') ?? DEFAULT_CAPTURE_RATE
  )
}
