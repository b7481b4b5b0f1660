/**
 * Connections: every endpoint attached to the hub right now (windows, module processes, WebSocket
 * clients), over what, since when, and how it fares: what it subscribes to, what it has not yet
 * acknowledged, what waits to leave for it, and whether it sends the hub frames it should not.
 * Where a renderer gets no messages, this says first whether it is attached at all.
 */
import type { BusMetrics, ConnectionMetrics } from '../../shared/metrics-snapshot.js'
import { age, bytes, count } from './format.js'

/** By module, then oldest first: a module attached twice shows both, side by side. */
function byModule(a: ConnectionMetrics, b: ConnectionMetrics): number {
  return a.module.localeCompare(b.module) || a.attachedAt.getTime() - b.attachedAt.getTime()
}

/** `showSubscriptions(module)` opens the Subscriptions view narrowed to that module. */
export function Connections({
  metrics,
  showSubscriptions,
}: {
  metrics: BusMetrics | undefined
  showSubscriptions: (module: string) => void
}) {
  if (!metrics) return <p class="empty">Waiting for the first metrics snapshot…</p>
  if (metrics.connections === undefined) {
    return <p class="empty">This snapshot lists no connections: it did not come through a hub.</p>
  }
  if (metrics.connections.length === 0) return <p class="empty">No endpoint is attached to the hub.</p>
  const now = metrics.collectedAt.getTime()
  return (
    <div class="connections">
      <p class="hint">
        Every endpoint attached to the hub now. One that left is not listed; its Reliable subscriptions wait
        for it, parked, in the Subscriptions view.
      </p>
      <div class="table-scroll">
        <table class="grid" data-testid="connections">
          <thead>
            <tr>
              <th>module</th>
              <th>transport</th>
              <th>state</th>
              <th>attached</th>
              <th class="num">subscriptions</th>
              <th class="num" title="deliveries sent to it and not yet acknowledged">
                awaiting ack
              </th>
              <th class="num" title="sent by the hub and not yet left for it (a WebSocket's buffered bytes)">
                unsent
              </th>
              <th
                class="num"
                title="frames the hub refused from it (malformed, out of order, not its own to send): above 0, it misbehaves"
              >
                bad frames
              </th>
              <th>watching</th>
            </tr>
          </thead>
          <tbody>
            {[...metrics.connections].sort(byModule).map((connection) => (
              <tr
                key={`${connection.module}@${connection.attachedAt.getTime()}`}
                data-testid="connection-row"
                data-module={connection.module}
              >
                <td>{connection.module}</td>
                <td data-testid="connection-transport">
                  {connection.transport === 'websocket' ? 'WebSocket' : 'MessagePort'}
                </td>
                <td>
                  <span
                    class={`pill ${connection.greeted ? 'ok' : 'warn'}`}
                    title={connection.greeted ? undefined : 'attached, its hello not yet received'}
                  >
                    {connection.greeted ? 'open' : 'greeting'}
                  </span>
                </td>
                <td title={connection.attachedAt.toLocaleString()}>{age(connection.attachedAt, now)}</td>
                <td class="num" data-testid="connection-subscriptions">
                  {connection.subscriptions > 0 ? (
                    <button
                      type="button"
                      class="link"
                      title={`show ${connection.module}'s subscriptions`}
                      onClick={() => showSubscriptions(connection.module)}
                    >
                      {count(connection.subscriptions)}
                    </button>
                  ) : (
                    count(connection.subscriptions)
                  )}
                </td>
                <td class="num">{count(connection.awaitingAck)}</td>
                <td class="num">
                  {connection.unsentBytes === undefined ? '–' : bytes(connection.unsentBytes)}
                </td>
                <td class={connection.badFrames > 0 ? 'num warn' : 'num'} data-testid="connection-bad-frames">
                  {count(connection.badFrames)}
                </td>
                <td>{connection.watching.join(', ') || '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  )
}
