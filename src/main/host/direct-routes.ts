/**
 * The app's direct routes: the three high-frequency paths of the seed pipeline take one hop
 * between their modules instead of two through the main process. `SKELLY_DIRECT_ROUTES=off` sends
 * everything through the hub instead, for comparison.
 */
import type { RouteSpec } from '../hub/index.js'

export const SEED_ROUTES: readonly RouteSpec[] = Object.freeze([
  { producer: 'data-capture', consumer: 'storage', types: ['RawEvent'] },
  { producer: 'analysis-engine', consumer: 'gamification', types: ['StateChange'] },
  { producer: 'gamification', consumer: 'ai-integration', types: ['InterventionRequest'] },
])

/** The routes a host declares, honouring `SKELLY_DIRECT_ROUTES` (`off`/`0`/`false` turns them off). */
export function directRoutes(setting: string | undefined = process.env.SKELLY_DIRECT_ROUTES): RouteSpec[] {
  const off = setting !== undefined && ['off', '0', 'false', 'no'].includes(setting.trim().toLowerCase())
  return off ? [] : SEED_ROUTES.map((spec) => ({ ...spec, types: [...spec.types] }))
}
