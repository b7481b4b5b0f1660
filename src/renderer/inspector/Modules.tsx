/**
 * Modules: the registry with status, last health check, restarts, how each module's process last
 * ended (so a module that keeps dying says why), the errors each reported about itself, and each
 * module's traffic.
 */
import type { BusMetrics } from '../../shared/metrics-snapshot.js'
import type { ModuleExit, ModuleInfo } from '../../shared/registry-types.js'
import { age, count } from './format.js'

/** e.g. "3s ago · exit 1: Error: EISDIR: illegal operation on a directory …" (the age first: a long error is cut) */
function exitText({ code, error, at }: ModuleExit, now: number): string {
  return `${age(at, now)} · exit ${code}${error === undefined ? '' : `: ${error}`}`
}

/** e.g. "2 · 4s ago · ConfigRejected: 'rate' takes events per second, above 0 (got "fast")" */
function errorsText({ errorsReported, lastError }: ModuleInfo, now: number): string | undefined {
  if (lastError === undefined) return undefined
  return `${count(errorsReported ?? 1)} · ${age(lastError.at, now)} · ${lastError.errorType}: ${lastError.message}`
}

export function Modules({ metrics }: { metrics: BusMetrics | undefined }) {
  if (!metrics) return <p class="empty">Waiting for the first metrics snapshot…</p>
  const now = metrics.collectedAt.getTime()
  return (
    <div class="modules">
      <p class={`overall overall-${metrics.registry.overall}`} data-testid="overall-health">
        Overall: <strong>{metrics.registry.overall}</strong>
      </p>
      <div class="table-scroll">
        <table class="grid" data-testid="modules">
          <thead>
            <tr>
              <th>module</th>
              <th>status</th>
              <th>last health check</th>
              <th class="num">restarts</th>
              <th>last exit</th>
              <th title="Error messages the module published about itself since it registered: how many, and the latest">
                errors reported
              </th>
              <th class="num">published</th>
              <th class="num" title="Its publishes that no subscription took">
                to no one
              </th>
              <th class="num">delivered to it</th>
              <th class="num">failed</th>
              <th>registered</th>
            </tr>
          </thead>
          <tbody>
            {metrics.registry.modules.map((module) => {
              const traffic = metrics.modules[module.moduleId]
              const reported = errorsText(module, now)
              return (
                <tr key={module.moduleId} data-module={module.moduleId}>
                  <td>{module.moduleId}</td>
                  <td>
                    <span class={`pill status-${module.status}`} data-testid={`status-${module.moduleId}`}>
                      {module.status}
                    </span>
                  </td>
                  <td>{module.lastHealthCheck ? age(module.lastHealthCheck, now) : '–'}</td>
                  <td class="num" data-testid={`restarts-${module.moduleId}`}>
                    {module.restarts ?? 0}
                  </td>
                  {module.lastExit === undefined ? (
                    <td class="muted">–</td>
                  ) : (
                    <td
                      class="mono error-text"
                      title={exitText(module.lastExit, now)}
                      data-testid={`last-exit-${module.moduleId}`}
                    >
                      {exitText(module.lastExit, now)}
                    </td>
                  )}
                  {reported === undefined ? (
                    <td class="muted">–</td>
                  ) : (
                    <td class="mono error-text" title={reported} data-testid={`errors-${module.moduleId}`}>
                      {reported}
                    </td>
                  )}
                  <td class="num">{count(traffic?.published ?? 0)}</td>
                  <td class="num" data-testid={`unrouted-${module.moduleId}`}>
                    {count(traffic?.unrouted ?? 0)}
                  </td>
                  <td class="num">{count(traffic?.delivered ?? 0)}</td>
                  <td class="num">{count(traffic?.failed ?? 0)}</td>
                  <td>{age(module.registeredAt, now)}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
    </div>
  )
}
