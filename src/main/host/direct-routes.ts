/**
 * The app's direct routes: the three high-frequency paths of the seed pipeline take one hop
 * between their modules instead of two through the main process. `SKELLY_DIRECT_ROUTES=off` sends
 * everything through the hub instead, for comparison.
 */
import { currentEnvironment, type Environment, readSwitchVariable } from '../../shared/environment.js'
import type { RouteSpec } from '../hub/index.js'

export const SEED_ROUTES: readonly RouteSpec[] = Object.freeze([
  { producer: 'data-capture', consumer: 'storage', types: ['RawEvent'] },
  { producer: 'analysis-engine', consumer: 'gamification', types: ['StateChange'] },
  { producer: 'gamification', consumer: 'ai-integration', types: ['InterventionRequest'] },
])

/**
 * The routes a host declares, honouring `SKELLY_DIRECT_ROUTES` (on by default; `off`, `0`, `false`
 * or `no` turns them off).
 * @throws EventBusError `Configuration` for any other value, rather than guessing what it meant
 */
export function directRoutes(env: Environment = currentEnvironment()): RouteSpec[] {
  const on = readSwitchVariable(env, 'SKELLY_DIRECT_ROUTES') ?? true
  return on ? SEED_ROUTES.map((spec) => ({ ...spec, types: [...spec.types] })) : []
}
