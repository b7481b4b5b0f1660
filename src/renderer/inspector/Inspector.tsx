/**
 * The bus inspector: one window tying together what a broker's management UI and an IPC monitor
 * show separately — rates and latency over time, queues per subscription, dead letters with
 * replay, the live message tail, the modules behind it all, and every endpoint attached.
 */
import { useState } from 'preact/hooks'
import type { SkellyBusApi } from '../../preload/skelly-bus.js'
import { Connections } from './Connections.js'
import { DeadLetters } from './DeadLetters.js'
import { medianSpacing, useConnection, useMetricsHistory, usePastMetrics, useTail } from './feeds.js'
import { clockTime, millis } from './format.js'
import { verdict } from './health.js'
import { Modules } from './Modules.js'
import { Overview } from './Overview.js'
import { Routes } from './Routes.js'
import { Subscriptions } from './Subscriptions.js'
import { Tail } from './Tail.js'

const TABS = [
  'overview',
  'subscriptions',
  'routes',
  'dead letters',
  'tail',
  'modules',
  'connections',
] as const
type Tab = (typeof TABS)[number]
const PANEL_ID = 'inspector-view'

function tabId(name: Tab): string {
  return `tab-${name.replace(' ', '-')}`
}

/** The keys of a tab list: arrows to the previous or next tab (wrapping), Home and End to the ends. */
const TAB_KEYS: Record<string, (index: number) => number> = {
  ArrowLeft: (index) => (index + TABS.length - 1) % TABS.length,
  ArrowRight: (index) => (index + 1) % TABS.length,
  Home: () => 0,
  End: () => TABS.length - 1,
}

function moveBetweenTabs(event: KeyboardEvent, current: Tab, select: (tab: Tab) => void): void {
  const move = TAB_KEYS[event.key]
  if (move === undefined) return
  event.preventDefault()
  const next = TABS[move(TABS.indexOf(current))] as Tab
  select(next)
  document.getElementById(tabId(next))?.focus()
}

function uptime(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  return seconds < 3600
    ? `${Math.floor(seconds / 60)}m ${seconds % 60}s`
    : `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`
}

export function Inspector({ bus }: { bus: SkellyBusApi }) {
  const [tab, showTab] = useState<Tab>('overview')
  // The module the Subscriptions view shows first, when the Connections view asked for one.
  const [subscriptionsOf, setSubscriptionsOf] = useState('')
  const setTab = (next: Tab) => {
    setSubscriptionsOf('')
    showTab(next)
  }
  const connection = useConnection(bus)
  const history = useMetricsHistory(bus)
  const past = usePastMetrics(bus, connection)
  const tail = useTail(bus)
  const latest = history.at(-1)?.metrics
  const health = latest && verdict(latest, history.at(-2)?.metrics)
  // Away from the hub, the last snapshot stays on screen, marked as such: live-looking rates and a
  // "healthy" badge would claim what nobody can see now.
  const live = connection === 'open'
  const interval = medianSpacing(history.map((sample) => sample.metrics))
  const badges: Partial<Record<Tab, number>> = {
    'dead letters': latest?.deadLetters.size,
    subscriptions: latest?.subscriptions.length,
    routes: latest?.routes.filter((route) => route.state === 'active').length,
    connections: latest?.connections?.length,
  }
  return (
    <div class="inspector">
      <header class="topbar">
        <h1>Bus inspector</h1>
        <span class={`pill connection-${connection}`} data-testid="connection">
          {connection}
        </span>
        {health && live && (
          <span class={`pill ${health.healthy ? 'ok' : 'bad'}`} title={health.reasons.join('\n')}>
            {health.healthy ? 'healthy' : 'degraded'}
          </span>
        )}
        <span class="spacer" />
        {latest && (
          <span class="muted">
            up {uptime(latest.uptimeMs)} · p99{' '}
            {latest.deliveryLatency.count > 0 ? millis(latest.deliveryLatency.p99Ms) : '–'}
            {latest.hubBusy !== undefined && (
              <span
                data-testid="hub-busy"
                title="The share of the latest interval the hub's thread (the main process's) was busy. Near 100 %, the hub sets the pace of every message through it."
              >
                {' '}
                · hub {Math.round(latest.hubBusy * 100)} % busy
              </span>
            )}{' '}
            · snapshot every {interval === undefined ? '…' : `${Math.round(interval / 100) / 10}s`}
          </span>
        )}
      </header>
      <div
        class="tabs"
        role="tablist"
        aria-label="Inspector views"
        onKeyDown={(event) => moveBetweenTabs(event, tab, setTab)}
      >
        {TABS.map((name) => (
          <button
            type="button"
            role="tab"
            key={name}
            id={tabId(name)}
            aria-selected={tab === name}
            aria-controls={PANEL_ID}
            // One tab stop for the whole list; the arrow keys move between tabs (WAI-ARIA tabs).
            tabIndex={tab === name ? 0 : -1}
            class={tab === name ? 'active' : ''}
            onClick={() => setTab(name)}
            data-testid={tabId(name)}
          >
            {name}
            {badges[name] ? <span class="badge">{badges[name]}</span> : null}
          </button>
        ))}
      </div>
      {!live && latest && (
        <p class="stale-note" role="status" data-testid="stale">
          {connection === 'closed' ? 'Disconnected from the hub.' : 'Reconnecting to the hub…'} What follows
          is the last snapshot, taken at {clockTime(latest.collectedAt)}.
        </p>
      )}
      <main class={live ? 'content' : 'content stale'}>
        <div id={PANEL_ID} role="tabpanel" aria-labelledby={tabId(tab)}>
          {tab === 'overview' && <Overview history={history} past={past} />}
          {tab === 'subscriptions' && (
            <Subscriptions history={history} past={past} module={subscriptionsOf} />
          )}
          {tab === 'routes' && <Routes metrics={latest} />}
          {tab === 'dead letters' && (
            <DeadLetters bus={bus} changes={latest?.deadLetters.changes} connection={connection} />
          )}
          {tab === 'tail' && <Tail tail={tail} />}
          {tab === 'modules' && <Modules metrics={latest} />}
          {tab === 'connections' && (
            <Connections
              metrics={latest}
              showSubscriptions={(module) => {
                showTab('subscriptions')
                setSubscriptionsOf(module)
              }}
            />
          )}
        </div>
      </main>
    </div>
  )
}
