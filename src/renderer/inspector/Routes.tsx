/**
 * Direct routes: hot paths that take one hop between two endpoints, brokered by the hub. Their
 * traffic never crosses the main process, so this is where it shows: state, rate, outcomes, what
 * waits at the producer, and how often the route fell back to the hub.
 */
import type { BusMetrics, RouteMetrics } from '../../shared/metrics-snapshot.js'
import { count, rate } from './format.js'
import { nearlyFull, routeName } from './health.js'

const STATE_CLASS: Record<RouteMetrics['state'], string> = {
  active: 'ok',
  establishing: 'warn',
  waiting: 'warn',
  revoked: 'bad',
}

export function Routes({ metrics }: { metrics: BusMetrics | undefined }) {
  if (!metrics) return <p class="empty">Waiting for the first metrics snapshot…</p>
  if (metrics.routes.length === 0) {
    return <p class="empty">No direct routes: every message goes through the hub.</p>
  }
  return (
    <div class="routes">
      <p class="hint">
        Messages on an active route go straight from producer to consumer (one hop); the hub counts them from
        the producer's reports and takes their dead letters. Other subscribers still get them through the hub.
      </p>
      {/* Twelve columns: on a narrow window the table scrolls, as the subscriptions' does. */}
      <div class="table-scroll">
        <table class="grid" data-testid="routes">
          <thead>
            <tr>
              <th>route</th>
              <th>types</th>
              <th>state</th>
              <th class="num">delivered/s</th>
              <th class="num">delivered</th>
              <th class="num">failed</th>
              <th class="num">dead letters</th>
              <th class="num" title="unacknowledged copies handed back to the hub when a channel went down">
                to hub
              </th>
              <th
                class="num"
                title="deliveries the hub keeps for the route: failed ones while the producer retries them, and those a closed channel's consumer has not settled yet"
              >
                held
              </th>
              <th class="num" title="waiting at the producer + in flight on the channel">
                backlog
              </th>
              <th class="num" title="times the channel went down and traffic fell back to the hub">
                fallbacks
              </th>
              <th
                class="num"
                title="frames about the route's channels the hub refused from its own producer or consumer: above 0, one of them misbehaves"
              >
                bad frames
              </th>
            </tr>
          </thead>
          <tbody>
            {metrics.routes.map((route) => (
              <tr key={route.id} data-route={route.id}>
                <td>{routeName(route)}</td>
                <td>{route.types.join(', ')}</td>
                <td>
                  <span
                    class={`pill ${STATE_CLASS[route.state]}`}
                    title={route.reason}
                    data-testid={`route-state-${route.producer}`}
                  >
                    {route.state}
                  </span>
                  {route.reason && <div class="muted route-reason">{route.reason}</div>}
                </td>
                <td class="num" data-testid={`route-rate-${route.producer}`}>
                  {rate(route.deliveredPerSec)}
                </td>
                <td class="num" data-testid={`route-delivered-${route.producer}`}>
                  {count(route.delivered)}
                </td>
                <td class="num">{count(route.failed)}</td>
                <td class="num">{count(route.deadLettered)}</td>
                <td class="num">{count(route.handedBack)}</td>
                <td class="num" data-testid={`route-held-${route.producer}`}>
                  {count(route.held)}
                </td>
                <td
                  class={nearlyFull(route.queued, metrics.maxQueueSize) ? 'num warn' : 'num'}
                  title={`${count(route.queued)} waiting (of at most ${count(metrics.maxQueueSize)}: past that the producer's publishes are refused with QueueFull), ${count(route.inFlight)} in flight`}
                  data-testid={`route-backlog-${route.producer}`}
                >
                  {count(route.queued + route.inFlight)}
                  {route.queueFull > 0 && (
                    <div
                      class="warn route-refused-full"
                      title="publishes the producer refused with QueueFull, its backlog full"
                      data-testid={`route-queue-full-${route.producer}`}
                    >
                      {count(route.queueFull)} refused
                    </div>
                  )}
                </td>
                <td
                  class="num"
                  title={`set up ${route.established} times`}
                  data-testid={`route-fallbacks-${route.producer}`}
                >
                  {count(route.fallbacks)}
                </td>
                <td
                  class={route.refused > 0 ? 'num warn' : 'num'}
                  data-testid={`route-refused-${route.producer}`}
                >
                  {count(route.refused)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  )
}
