/**
 * The bus inspector end to end, with load running: its numbers agree with bus.metrics(), a failing
 * Reliable subscriber's messages appear as dead letters that can be replayed and purged from the
 * UI, the tail filters, and every view is kept as a screenshot in light and dark.
 */
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import type { Locator, Page } from '@playwright/test'
import {
  BusMessage,
  DeadLetterReason,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  type MessageType,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createDeadLetterLog } from '../../src/main/host/dead-letter-log.js'
import type { HeadlessHost } from '../../src/main/node/headless.js'
import { clockTime } from '../../src/renderer/inspector/format.js'
import { droppableSockets, expect, gamificationTip, modulesReady, openInspector, test } from '../fixtures.js'
import { numberIn } from '../page-text.js'

test.use({ hostOptions: { modules: [], bus: { maxRetryAttempts: 0 } } })

/**
 * The text of each element `selector` finds whose content is wider than the room its box gives it
 * (ending in an ellipsis). Measured to the fraction of a pixel: a cell's scrollWidth is rounded,
 * and "LatestOnly" cut by half a pixel showed as "LatestO…" with equal scroll and client widths.
 */
function cutOff(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((cells) => {
    const contentWidth = (cell: Element) => {
      const range = document.createRange()
      range.selectNodeContents(cell)
      return range.getBoundingClientRect().width
    }
    const room = (cell: Element) => {
      const style = getComputedStyle(cell)
      return (
        cell.getBoundingClientRect().width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
      )
    }
    return [...document.querySelectorAll(cells)]
      .filter((cell) => contentWidth(cell) > room(cell) + 0.01)
      .map((cell) => cell.textContent ?? '')
  }, selector)
}

/** Steady traffic from the test: RawEvents (Normal) and StateChanges (High) every 50 ms. */
function startLoad(bus: EventBus): () => void {
  let n = 0
  const timer = setInterval(() => {
    for (let i = 0; i < 10; i++) {
      void bus.publish(
        BusMessage.create(
          ModuleId.DataCapture,
          MessagePayload.RawEvent({ eventType: 'keystroke', data: { n: n++ }, timestamp: new Date() }),
        ),
      )
    }
    void bus.publish(
      BusMessage.withPriority(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'focused', confidence: 0.9, timestamp: new Date() }),
        MessagePriority.High,
      ),
    )
  }, 50)
  return () => clearInterval(timer)
}

/** {@link startLoad}, with Storage taking the RawEvents (a sink in this process). */
async function startDeliveredLoad(bus: EventBus): Promise<() => void> {
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {})
  return startLoad(bus)
}

/** A Reliable StateChange subscriber that fails with 'sink offline' while `failing()` says so. */
function subscribeSink(bus: EventBus, failing: () => boolean, handled: string[] = []) {
  return bus.subscribe(
    'flaky-sink',
    MessageFilter.types(['StateChange']),
    DeliveryMode.Reliable({ timeoutMs: 1000 }),
    async (m) => {
      if (failing()) throw new Error('sink offline')
      handled.push(m.id)
    },
  )
}

/** The distinct values of one column (`type` or `source`) among the tail's visible rows. */
async function tailColumn(page: Page, column: 'type' | 'source'): Promise<Set<string | null>> {
  return new Set(
    await page
      .getByTestId('tail-row')
      .evaluateAll((rows, name) => rows.map((r) => r.getAttribute(`data-${name}`)), column),
  )
}

/** The tail's count of the entries it lists, from "N shown · M seen". */
const listedIn = (text: string | null) => Number(/^(\d+) shown/.exec(text ?? '')?.[1])
/** The tail's count of the messages it received, from "N shown · M seen". */
const seenIn = (text: string | null) => Number(/(\d+) seen/.exec(text ?? '')?.[1])

/** The box a table drawn a window of rows at a time scrolls in. */
const scrollBox = (table: Locator) => table.locator('xpath=..')

/** Scrolls `table`'s box to its last rows. */
const scrollToBottom = (table: Locator) =>
  scrollBox(table).evaluate((box) => box.scrollTo({ top: box.scrollHeight }))

/** The inspector's views, by the names their tabs' test ids carry. */
const VIEWS = [
  'overview',
  'subscriptions',
  'routes',
  'dead-letters',
  'tail',
  'modules',
  'connections',
] as const

/** Switches the open inspector to `view` and waits until it is drawn (dead letters: listed). */
async function showView(page: Page, view: (typeof VIEWS)[number]): Promise<void> {
  await page.getByTestId(`tab-${view}`).click()
  await expect(page.getByRole('tabpanel')).toHaveAttribute('aria-labelledby', `tab-${view}`)
  if (view === 'dead-letters')
    await expect(page.getByTestId('dlq-count')).not.toHaveText('Listing dead letters…')
}

/** Opens the inspector's Subscriptions view: its table, and the subscriptions' rows drawn. */
async function openSubscriptions(page: Page, host: HeadlessHost) {
  await openInspector(page, host)
  await page.getByTestId('tab-subscriptions').click()
  const table = page.getByTestId('subscriptions')
  return { table, rows: table.locator('tbody tr[aria-rowindex]') }
}

test('overview numbers move under load and agree with bus.metrics()', async ({
  page,
  host,
  consoleErrors,
}, testInfo) => {
  const stop = await startDeliveredLoad(host.bus)
  await openInspector(page, host)
  const first = numberIn(await page.getByTestId('kpi-published-total').textContent())
  await expect
    .poll(async () => numberIn(await page.getByTestId('kpi-published-total').textContent()))
    .toBeGreaterThan(first)
  await expect(page.getByTestId('verdict')).toContainText('Healthy')
  // The header says how busy the hub's thread was in the latest interval: under load, not idle.
  await expect(page.getByTestId('hub-busy')).toHaveText(/^ · hub \d+ % busy$/)
  await expect.poll(async () => numberIn(await page.getByTestId('hub-busy').textContent())).toBeGreaterThan(0)
  const p95Now = page.getByTestId('kpi-p95').locator('.value')
  await expect(p95Now).toHaveText(/^\d+(\.\d+)? (µs|ms|s)$/)
  // With no cursor on it, a chart's legend gives its latest figures: the latency chart's p95 is
  // the one above it. Read together, as both change at each snapshot.
  const p95Figures = () =>
    page.evaluate(() => ({
      kpi: document.querySelector('[data-testid=kpi-p95] .value')?.textContent,
      legend: [...document.querySelectorAll('[data-testid=chart-latency] .u-series')]
        .find((series) => series.querySelector('.u-label')?.textContent === 'p95')
        ?.querySelector('.u-value')?.textContent,
    }))
  await expect
    .poll(
      async () => {
        const { kpi, legend } = await p95Figures()
        return /\d/.test(kpi ?? '') && legend === kpi
      },
      { message: 'the latency legend’s p95 is the p95 now above it' },
    )
    .toBe(true)
  await page.screenshot({ path: testInfo.outputPath('overview-under-load.png') })
  stop()
  // An interval with no delivery has no latency to show, not a latency of zero.
  await expect(p95Now).toHaveText('–', { timeout: 10_000 })
  // Quiet now: the next snapshots must show exactly what the bus counts.
  const expected = await host.bus.metrics()
  await expect
    .poll(async () => numberIn(await page.getByTestId('kpi-published-total').textContent()))
    .toBe(expected.messagesPublished)
  await expect
    .poll(async () => numberIn(await page.getByTestId('kpi-delivered-total').textContent()))
    .toBe((await host.bus.metrics()).messagesDelivered)
  // By type too: the busiest type first, with the counts the bus keeps for it.
  const byType = page.getByTestId('type-traffic').locator('tbody tr')
  await expect(byType.first()).toHaveAttribute('data-type', 'RawEvent')
  for (const type of ['RawEvent', 'StateChange'] as const) {
    await expect
      .poll(async () => numberIn(await page.getByTestId(`type-published-${type}`).textContent()))
      .toBe((await host.bus.metrics()).types[type]?.published)
  }
  // A type nobody subscribes to: the table says how many of its publishes went to no one.
  const at = new Date()
  for (const state of ['focused', 'idle', 'away']) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.AnalysisComplete({
          windowId: crypto.randomUUID(),
          state,
          confidence: 1,
          startTime: at,
          endTime: at,
        }),
      ),
    )
  }
  // The demo's analysis engine may publish more of them meanwhile: at least these three.
  const unrouted = (await host.bus.metrics()).types.AnalysisComplete?.unrouted ?? 0
  expect(unrouted).toBeGreaterThanOrEqual(3)
  await expect
    .poll(async () => numberIn(await page.getByTestId('type-unrouted-AnalysisComplete').textContent()))
    .toBeGreaterThanOrEqual(unrouted)
  await page
    .getByTestId('type-traffic')
    .screenshot({ path: testInfo.outputPath('type-traffic-unrouted.png') })
  expect(consoleErrors).toEqual([])
})

test('the verdict line says when the hub’s thread sets the pace, and stops saying it once it does not', async ({
  page,
  host,
  consoleErrors,
}, testInfo) => {
  await openInspector(page, host)
  await expect(page.getByTestId('verdict-hub-busy')).toHaveCount(0)
  // The host runs in this process: holding its thread 90 ms of every 100 is the hub at 90 %
  // and more, with room left between for its timers and sockets.
  const hold = setInterval(() => {
    const until = performance.now() + 90
    while (performance.now() < until);
  }, 100)
  try {
    await expect(page.getByTestId('verdict-hub-busy')).toContainText(
      /the hub's thread was \d+ % busy: it sets the pace/,
      { timeout: 15_000 },
    )
    await page.screenshot({ path: testInfo.outputPath('overview-hub-busy.png') })
  } finally {
    clearInterval(hold)
  }
  await expect(page.getByTestId('verdict-hub-busy')).toHaveCount(0)
  expect(consoleErrors).toEqual([])
})

test('an inspector opened late starts its charts and rates with what the hub saw before it opened', async ({
  page,
  host,
  consoleErrors,
}, testInfo) => {
  const stop = await startDeliveredLoad(host.bus)
  // The hub takes a snapshot a second whether or not a window watches: let it take a few.
  await page.waitForTimeout(3500)
  const openedAt = Date.now() / 1000
  await openInspector(page, host)
  // Read at once, before a second snapshot could come: without the hub's points the charts would
  // start now and the first rates would be zeros.
  const publishedRate = await page.getByTestId('kpi-published').locator('.value').textContent()
  const rawEventRate = await page
    .locator('[data-testid=type-traffic] tr[data-type=RawEvent] td')
    .nth(1)
    .textContent()
  for (const chart of ['chart-latency', 'chart-throughput', 'chart-queue']) {
    expect(Number(await page.getByTestId(chart).getAttribute('data-from'))).toBeLessThan(openedAt - 2)
  }
  expect(publishedRate).not.toBe('0.0/s')
  // The type table's rate too, against the hub's last point: not a dash until a second snapshot.
  expect(rawEventRate).toMatch(/^[\d,.]+\/s$/)
  expect(rawEventRate).not.toBe('0.0/s')
  await page.screenshot({ path: testInfo.outputPath('overview-opened-late.png') })
  stop()
  expect(consoleErrors).toEqual([])
})

test('a window back from a dropped connection fills its charts with what the hub kept meanwhile', async ({
  page,
  host,
  consoleErrors,
}) => {
  const network = await droppableSockets(page)
  const stop = await startDeliveredLoad(host.bus)
  try {
    await openInspector(page, host)
    const chart = page.getByTestId('chart-throughput')
    await expect(chart).not.toHaveAttribute('data-points', /^[01]$/)
    await network.drop()
    await expect(page.getByTestId('connection')).not.toHaveText('open')
    await page.waitForTimeout(4000) // away: the hub keeps a point a second all the same
    network.reconnect()
    await expect(page.getByTestId('connection')).toHaveText('open', { timeout: 20_000 })
    // A point a second from first to last, the time away included: without the hub's points the
    // line would skip the four seconds or more the window was away.
    await expect
      .poll(async () => {
        const [from, to, points] = await Promise.all(
          ['data-from', 'data-to', 'data-points'].map(async (name) => Number(await chart.getAttribute(name))),
        )
        return {
          spanSeconds: Math.round((to ?? 0) - (from ?? 0)) > 8,
          pointsCoverIt: (points ?? 0) >= (to ?? 0) - (from ?? 0),
        }
      })
      .toEqual({ spanSeconds: true, pointsCoverIt: true })
    // The interval is the snapshots' usual spacing, not the time away.
    await expect(page.locator('.topbar')).toContainText('snapshot every 1s')
    expect(consoleErrors).toEqual([])
  } finally {
    stop()
  }
})

test('a failing Reliable subscriber’s messages show as dead letters; replay and purge work from the UI', async ({
  page,
  host,
}, testInfo) => {
  let failing = true
  const handled: string[] = []
  await subscribeSink(host.bus, () => failing, handled)
  const stop = startLoad(host.bus)
  await expect.poll(() => host.bus.deadLetters.list().length).toBeGreaterThan(5)
  stop()
  await openInspector(page, host)
  // The verdict keeps the bus's rule (queues, p95) and names the failing subscriber beside it.
  await expect(page.getByTestId('verdict')).toContainText('Healthy')
  await expect(page.getByTestId('verdict-trouble')).toHaveText(
    '1 subscription in trouble: flaky-sink (failing)',
  )
  await page.getByTestId('tab-dead-letters').click()
  const held = host.bus.deadLetters.list().length
  await expect(page.getByTestId('dlq-count')).toHaveText(`${held} dead letters`)
  await expect(page.getByTestId('dlq-reason').first()).toHaveText('MaxRetriesExceeded')
  await expect(page.getByTestId('dead-letter').first()).toContainText('Error: sink offline')
  await page.getByRole('button', { name: 'payload' }).first().click()
  await expect(page.locator('pre.payload')).toContainText('timestamp: Date(')
  // Newest failure first (the bus lists them oldest first): the first row's message failed last.
  const entries = host.bus.deadLetters.list()
  const lastFailure = Math.max(...entries.map((entry) => entry.lastFailedAt.getTime()))
  const failedLast = entries.filter((entry) => entry.lastFailedAt.getTime() === lastFailure)
  const firstShown = await page.locator('pre.payload').textContent()
  expect(failedLast.some((entry) => firstShown?.includes(entry.message.id))).toBe(true)
  await page.screenshot({ path: testInfo.outputPath('dead-letters.png') })

  failing = false
  await page.getByTestId('dead-letter').first().getByRole('checkbox').check()
  await page.getByTestId('dead-letter').nth(1).getByRole('checkbox').check()
  await page.getByTestId('replay-selected').click()
  await expect(page.getByTestId('dlq-outcome')).toHaveText('Replayed 2 of 2 selected.')
  await expect.poll(() => handled.length).toBe(2)
  expect(host.bus.deadLetters.list()).toHaveLength(held - 2)
  await expect(page.getByTestId('dlq-count')).toHaveText(`${held - 2} dead letters`)

  // Purging all takes a second click: the first only asks, and the asking lapses after 4 s.
  await page.getByTestId('purge-all').click()
  await expect(page.getByTestId('purge-all')).toHaveText(`Purge all ${held - 2}? Click again`)
  await expect(page.getByTestId('purge-all')).toHaveText('Purge all', { timeout: 6_000 })
  expect(host.bus.deadLetters.list()).toHaveLength(held - 2)
  await page.getByTestId('purge-all').click()
  await expect(page.getByTestId('purge-all')).toHaveText(`Purge all ${held - 2}? Click again`)
  expect(host.bus.deadLetters.list()).toHaveLength(held - 2)
  await page.getByTestId('purge-all').click()
  await expect(page.getByTestId('dlq-outcome')).toHaveText(`Purged ${held - 2} of all.`)
  expect(host.bus.deadLetters.list()).toEqual([])
  await expect(page.getByText('Nothing has failed for good.')).toBeVisible()
})

test('dead letters filter by reason and subscriber, and "all" means all shown', async ({ page, host }) => {
  // Two subscribers of StateChange: one fails every message (MaxRetriesExceeded), one never
  // settles and is then unsubscribed (Unsubscribed).
  await subscribeSink(host.bus, () => true)
  const stuck = await host.bus.subscribe(
    'stuck-sink',
    MessageFilter.types(['StateChange']),
    DeliveryMode.Reliable({ timeoutMs: 60_000 }),
    () => new Promise<void>(() => {}),
  )
  const published = 3 * host.bus.config.workers
  for (let i = 0; i < published; i++) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'idle', confidence: 0.5, timestamp: new Date() }),
      ),
    )
  }
  await host.bus.unsubscribe(stuck)
  const count = (reason: DeadLetterReason) => host.bus.deadLetters.list({ reason }).length
  await expect.poll(() => count('MaxRetriesExceeded'), { timeout: 20_000 }).toBe(published)
  const unsubscribed = count('Unsubscribed')
  expect(unsubscribed).toBeGreaterThan(0)
  const total = published + unsubscribed

  await openInspector(page, host)
  await page.getByTestId('tab-dead-letters').click()
  await expect(page.getByTestId('dlq-count')).toHaveText(`${total} dead letters`)
  await page.getByTestId('dlq-filter-reason').selectOption('Unsubscribed')
  await expect(page.getByTestId('dlq-count')).toHaveText(`${total} dead letters, ${unsubscribed} shown`)
  // The table's row count (its rows are drawn a window at a time), and all drawn are stuck-sink's.
  await expect(page.getByTestId('dead-letters')).toHaveAttribute('aria-rowcount', String(unsubscribed + 1))
  expect(new Set(await page.getByTestId('dead-letter').locator('td:nth-child(3)').allTextContents())).toEqual(
    new Set(['stuck-sink']),
  )
  // A selected row the filters hide is not acted on, and is selected again once shown.
  await page.getByTestId('dead-letter').first().getByRole('checkbox').check()
  await expect(page.getByTestId('replay-selected')).toHaveText('Replay selected (1)')
  await page.getByTestId('dlq-filter-reason').selectOption('MaxRetriesExceeded')
  await expect(page.getByTestId('replay-selected')).toHaveText('Replay selected (0)')
  await expect(page.getByTestId('replay-selected')).toBeDisabled()
  await page.getByTestId('dlq-filter-reason').selectOption('Unsubscribed')
  await expect(page.getByTestId('replay-selected')).toHaveText('Replay selected (1)')

  // "Purge all" purges what the filter shows, after the confirming click, and nothing else.
  await page.getByTestId('purge-all').click()
  await expect(page.getByTestId('purge-all')).toHaveText(`Purge ${unsubscribed} shown? Click again`)
  await page.getByTestId('purge-all').click()
  await expect(page.getByTestId('dlq-outcome')).toHaveText(`Purged ${unsubscribed} of all shown.`)
  expect(count('Unsubscribed')).toBe(0)
  expect(count('MaxRetriesExceeded')).toBe(published)
  await expect(page.getByText('No dead letter has this reason and subscriber.')).toBeVisible()

  await page.getByTestId('dlq-filter-reason').selectOption('')
  await page.getByTestId('dlq-filter-subscriber').selectOption('flaky-sink')
  await expect(page.getByTestId('replay-all')).toHaveText(`Replay all shown (${published})`)
})

test('with hundreds of dead letters the view draws those in view, and replays all of them, drawn or not', async ({
  page,
  host,
  consoleErrors,
}) => {
  let failing = true
  const handled: string[] = []
  await subscribeSink(host.bus, () => failing, handled)
  const held = 300
  for (let i = 0; i < held; i++) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'idle', confidence: 0.5, timestamp: new Date() }),
      ),
    )
  }
  await expect.poll(() => host.bus.deadLetters.list().length).toBe(held)
  await openInspector(page, host)
  await page.getByTestId('tab-dead-letters').click()
  const table = page.getByTestId('dead-letters')
  const rows = page.getByTestId('dead-letter')
  await expect(table).toHaveAttribute('aria-rowcount', String(held + 1))
  expect(await rows.count()).toBeLessThan(60)

  // An expanded payload is a row of its own: the rows after it count one more.
  await page.getByRole('button', { name: 'payload' }).first().click()
  await expect(table).toHaveAttribute('aria-rowcount', String(held + 2))
  await expect(rows.nth(1)).toHaveAttribute('aria-rowindex', '4')
  await scrollToBottom(table)
  await expect(rows.last()).toHaveAttribute('aria-rowindex', String(held + 2))
  await expect(rows.last()).toBeInViewport()

  failing = false
  await page.getByTestId('replay-all').click()
  await expect(page.getByTestId('dlq-outcome')).toHaveText(`Replayed ${held} of all.`)
  await expect.poll(() => handled.length).toBe(held)
  await expect(page.getByText('Nothing has failed for good.')).toBeVisible()
  expect(consoleErrors).toEqual([])
})

test('a replay that fails says why, in red, and what it could not replay stays listed; away from the hub, no action is offered', async ({
  page,
  host,
}) => {
  // A dead letter whose subscriber is gone, of a type no one else takes: replaying it cannot route it.
  const sink = await host.bus.subscribe(
    'figurine-sink',
    MessageFilter.types(['AnimationCommand']),
    DeliveryMode.Reliable({ timeoutMs: 1000 }),
    async () => {
      throw new Error('no figurine')
    },
  )
  await host.bus.publish(
    BusMessage.create(
      ModuleId.AiIntegration,
      MessagePayload.AnimationCommand({
        commandId: crypto.randomUUID(),
        animationType: 'wave',
        parameters: {},
        durationMs: 100,
      }),
    ),
  )
  await expect.poll(() => host.bus.deadLetters.list().length, { timeout: 20_000 }).toBe(1)
  await host.bus.unsubscribe(sink)
  await openInspector(page, host)
  await page.getByTestId('tab-dead-letters').click()
  const row = page.getByTestId('dead-letter')
  const outcome = page.getByTestId('dlq-outcome')
  await row.getByRole('checkbox').check()
  await page.getByTestId('replay-selected').click()
  await expect(outcome).toHaveText(
    'Replayed 0 of 1 selected. 1 not replayed: no subscription matches the message any more; it stays here',
  )
  await expect(outcome).toHaveClass(/\bbad\b/)
  await expect(row).toHaveCount(1)
  await expect(page.getByTestId('replay-selected')).toHaveText('Replay selected (0)') // acted on: unselected

  // With the hub gone, an action would wait for it and then apply to whatever the list held by then.
  await host.stop() // the fixture's own stop at the end finds it stopped
  await expect(page.getByTestId('connection')).not.toHaveText('open')
  await row.getByRole('checkbox').check()
  for (const action of [
    row.getByRole('button', { name: 'replay' }),
    row.getByRole('button', { name: 'purge' }),
    page.getByTestId('replay-selected'),
    page.getByTestId('purge-selected'),
    page.getByTestId('replay-all'),
    page.getByTestId('purge-all'),
  ]) {
    await expect(action).toBeDisabled()
    await expect(action).toHaveAttribute('title', 'Not connected to the hub')
  }
})

test('a dead letter that was never tried says why it is there', async ({ page, host }) => {
  // A subscriber whose handler never settles: the rest of its queue waits, never tried, until the
  // subscription ends and hands it to the dead-letter queue as Unsubscribed.
  const id = await host.bus.subscribe(
    'stuck-sink',
    MessageFilter.types(['StateChange']),
    DeliveryMode.Reliable({ timeoutMs: 1000 }),
    () => new Promise<void>(() => {}),
  )
  // More than the subscription runs at once (the bus's workers), so some are never tried.
  for (let i = 0; i < 3 * host.bus.config.workers; i++) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'focused', confidence: 0.5, timestamp: new Date() }),
      ),
    )
  }
  await host.bus.unsubscribe(id)
  await expect
    .poll(() => host.bus.deadLetters.list({ reason: 'Unsubscribed' }).filter((e) => e.attempts === 0).length)
    .toBeGreaterThan(0)
  await openInspector(page, host)
  await page.getByTestId('tab-dead-letters').click()
  // Those tried before the end (in flight then) show their error; the others say why they are here.
  const neverTried = page
    .getByTestId('dead-letter')
    .filter({ hasText: 'Unsubscribed', hasNotText: 'Error' })
    .first()
  await expect(neverTried.getByTestId('dlq-why')).toHaveText('its subscription ended while it waited')
  await expect(neverTried.getByTestId('dlq-reason')).toHaveAttribute(
    'title',
    'its subscription ended while it waited',
  )
})

test.describe('dead letters of every reason, held from an earlier run', () => {
  // The host loads them from its data folder's log, written before it starts: the widest reason,
  // module, type (InterventionResponse) and age a dead letter can show, without making each happen.
  const dataDir = join(tmpdir(), `skelly-e2e-every-reason-${process.pid}`)
  test.use({ hostOptions: { modules: [], dataDir } })
  test.beforeAll(async () => {
    await rm(dataDir, { recursive: true, force: true })
    await mkdir(dataDir)
    const log = createDeadLetterLog({ path: join(dataDir, 'dead-letters.jsonl') })
    // Eleven days and 23 hours ago, for the next hour: as wide as an age gets in practice.
    const failedAt = new Date(Date.now() - (11 * 24 + 23) * 3_600_000)
    for (const reason of Object.values(DeadLetterReason)) {
      log.added({
        id: `held-${reason}`,
        message: BusMessage.create(
          ModuleId.AiIntegration,
          MessagePayload.InterventionResponse({ requestId: reason, responseText: reason, animationCues: [] }),
        ),
        subscriptionId: `sub-${reason}`,
        module: ModuleId.AnalysisEngine,
        reason,
        attempts: 0,
        firstFailedAt: failedAt,
        lastFailedAt: failedAt,
      })
    }
    await log.close()
  })
  test.afterAll(() => rm(dataDir, { recursive: true, force: true }))

  test('each shows its reason, subscriber, type and age whole (screenshot kept)', async ({
    page,
    host,
  }, testInfo) => {
    await openInspector(page, host)
    await page.getByTestId('tab-dead-letters').click()
    await expect(page.getByTestId('dead-letter')).toHaveCount(Object.values(DeadLetterReason).length)
    await expect(page.getByTestId('dead-letter').first()).toContainText('InterventionResponse')
    await expect(page.getByTestId('dead-letter').first()).toContainText('11d 23h ago')
    // Only the last error may end in an ellipsis (its whole text is its title); a cell whose text
    // is wider than its column shows part of a reason or an age, and nothing says what is missing.
    expect(await cutOff(page, '[data-testid=dead-letter] td:not([data-testid=dlq-why])')).toEqual([])
    await page.screenshot({ path: testInfo.outputPath('dead-letters-every-reason.png') })
  })
})

type ListingMode = 'hold' | 'fail' | 'pass'

/** Publishes one StateChange to a failing sink (see {@link subscribeSink}) and waits until it is a dead letter. */
async function addDeadLetter(bus: EventBus): Promise<void> {
  const held = bus.deadLetters.list().length
  await bus.publish(
    BusMessage.create(
      ModuleId.AnalysisEngine,
      MessagePayload.StateChange({ state: 'focused', confidence: 0.9, timestamp: new Date() }),
    ),
  )
  await expect.poll(() => bus.deadLetters.list().length, { timeout: 10_000 }).toBe(held + 1)
}

/**
 * Before the inspector loads, puts the page's `skellyBus.deadLetters.list` under the test's control:
 * calls wait while the mode is `hold` (the first mode unless given), then fail or go through to the
 * hub as `setListing` says; `listings` says how many calls the page made.
 */
async function controlDeadLetterListing(
  page: Page,
  first: ListingMode = 'hold',
): Promise<{ setListing(mode: ListingMode): Promise<void>; listings(): Promise<number> }> {
  await page.addInitScript((initial: ListingMode) => {
    type Api = { deadLetters: { list: (filter?: unknown) => Promise<unknown> } }
    const scope = window as unknown as Record<string, unknown>
    let mode = initial
    scope.listings = 0
    let waiting: (() => void)[] = []
    let api: Api | undefined
    scope.setListing = (next: ListingMode) => {
      mode = next
      for (const wake of waiting) wake()
      waiting = []
    }
    Object.defineProperty(window, 'skellyBus', {
      configurable: true,
      get: () => api,
      set(real: Api) {
        const list = async (filter?: unknown): Promise<unknown> => {
          scope.listings = (scope.listings as number) + 1
          while (mode === 'hold') await new Promise<void>((wake) => waiting.push(wake))
          if (mode === 'fail') throw Object.assign(new Error('the hub is unreachable'), { code: 'Timeout' })
          return real.deadLetters.list(filter)
        }
        api = { ...real, deadLetters: { ...real.deadLetters, list } }
      },
    })
  }, first)
  return {
    setListing: (mode) =>
      page.evaluate((next) => (window as unknown as { setListing(m: string): void }).setListing(next), mode),
    listings: () => page.evaluate(() => (window as unknown as { listings: number }).listings),
  }
}

test('the dead-letter view never claims nothing failed before it has a list', async ({ page, host }) => {
  await subscribeSink(host.bus, () => true)
  const stop = startLoad(host.bus)
  await expect.poll(() => host.bus.deadLetters.list().length).toBeGreaterThan(2)
  stop()
  const held = host.bus.deadLetters.list().length
  const { setListing } = await controlDeadLetterListing(page)
  await openInspector(page, host)
  await page.getByTestId('tab-dead-letters').click()
  const nothingFailed = page.getByText('Nothing has failed for good.')

  // The listing is on its way.
  await expect(page.getByTestId('dlq-count')).toHaveText('Listing dead letters…')
  await expect(page.getByTestId('replay-all')).toBeDisabled()
  await expect(nothingFailed).toHaveCount(0)

  // It failed: the view says so, and still claims nothing.
  await setListing('fail')
  await expect(page.getByTestId('dlq-list-error')).toHaveText(
    'Could not list dead letters: the hub is unreachable',
  )
  await expect(page.getByTestId('dlq-count')).toHaveText('Listing dead letters…')
  await expect(nothingFailed).toHaveCount(0)

  // The next refresh gets through: the list, and the error gone.
  await setListing('pass')
  await expect(page.getByTestId('dlq-count')).toHaveText(`${held} dead letters`)
  await expect(page.getByTestId('dlq-list-error')).toHaveCount(0)

  // A later failure keeps the rows it had, marked as possibly out of date. The view lists again
  // when the queue changes: a new dead letter.
  await setListing('fail')
  await addDeadLetter(host.bus)
  await expect(page.getByTestId('dlq-list-error')).toHaveText(
    'Could not list dead letters: the hub is unreachable (the list below may be out of date)',
  )
  await expect(page.getByTestId('dead-letters')).toHaveAttribute('aria-rowcount', String(held + 1))
  await expect(page.getByTestId('dead-letter').first()).toBeVisible()
})

test('the dead-letter view lists the queue again when it changes or reconnects, not on a timer', async ({
  page,
  host,
  consoleErrors,
}) => {
  await subscribeSink(host.bus, () => true)
  for (let n = 0; n < 3; n++) await addDeadLetter(host.bus)
  const { listings } = await controlDeadLetterListing(page, 'pass')
  const network = await droppableSockets(page)
  await openInspector(page, host)
  await showView(page, 'dead-letters')
  await expect(page.getByTestId('dlq-count')).toHaveText('3 dead letters')
  // Nothing changes for five snapshots: nothing is listed (a 2-s timer listed twice or three times).
  await page.waitForTimeout(1500)
  const settled = await listings()
  await page.waitForTimeout(5000)
  expect(await listings()).toBe(settled)
  // One more dead letter: listed once more, and shown.
  await addDeadLetter(host.bus)
  await expect(page.getByTestId('dlq-count')).toHaveText('4 dead letters')
  expect(await listings()).toBe(settled + 1)
  // A new connection may be to a hub that restarted: listed again, though nothing changed here.
  await network.drop()
  await expect(page.getByTestId('connection')).not.toHaveText('open')
  network.reconnect()
  await expect(page.getByTestId('connection')).toHaveText('open', { timeout: 20_000 })
  await expect.poll(listings).toBe(settled + 2)
  expect(consoleErrors).toEqual([])
})

test('the message tail filters by type, source and priority, and pauses', async ({
  page,
  host,
}, testInfo) => {
  const stop = startLoad(host.bus)
  try {
    await openInspector(page, host)
    await page.getByTestId('tab-tail').click()
    await expect.poll(() => page.getByTestId('tail-row').count()).toBeGreaterThan(20)
    await page.getByTestId('tail-type').selectOption('StateChange')
    await expect.poll(() => tailColumn(page, 'type')).toEqual(new Set(['StateChange']))
    await page.getByTestId('tail-type').selectOption('')
    await page.getByTestId('tail-source').selectOption('data-capture')
    await expect.poll(() => tailColumn(page, 'source')).toEqual(new Set(['data-capture']))
    await page.getByTestId('tail-source').selectOption('')
    await page.getByTestId('tail-priority').selectOption('High')
    await expect.poll(() => tailColumn(page, 'type')).toEqual(new Set(['StateChange']))
    await page.getByTestId('tail-priority').selectOption('Low')
    // A row opened to read stays in view while newer messages arrive above it.
    const opened = page.locator('[data-testid=tail-row][aria-expanded=true]')
    await page.getByTestId('tail-row').first().click()
    await expect(page.getByTestId('tail-payload')).toContainText('timestamp: Date(')
    const openedText = await opened.textContent()
    const seenThen = seenIn(await page.getByTestId('tail-shown').textContent())
    await expect
      .poll(async () => seenIn(await page.getByTestId('tail-shown').textContent()))
      .toBeGreaterThan(seenThen + 50)
    await expect(opened).toHaveText(openedText ?? '')
    await expect(opened).toBeInViewport()
    await expect(page.getByTestId('tail-payload')).toBeInViewport()
    await page.getByTestId('tail-pause').click()
    const frozen = await page.getByTestId('tail-row').first().textContent()
    const seenAtPause = seenIn(await page.getByTestId('tail-shown').textContent())
    await page.waitForTimeout(800)
    expect(await page.getByTestId('tail-row').first().textContent()).toBe(frozen)
    await expect(page.getByTestId('tail-shown')).toContainText('paused')
    // What arrives meanwhile is still counted, though not listed.
    expect(seenIn(await page.getByTestId('tail-shown').textContent())).toBeGreaterThan(seenAtPause)
    await page.screenshot({ path: testInfo.outputPath('tail.png') })
    await page.getByTestId('tail-pause').click() // resumed: newer messages are listed again
    await expect.poll(() => page.getByTestId('tail-row').first().textContent()).not.toBe(frozen)
    await expect(page.getByTestId('tail-shown')).not.toContainText('paused')
  } finally {
    stop()
  }
})

test('the tail says it samples while more comes than it carries, and stops saying so after', async ({
  page,
  host,
}) => {
  await host.bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.BestEffort,
    () => {},
  )
  await openInspector(page, host)
  await page.getByTestId('tab-tail').click()
  const sampled = page.getByTestId('tail-sampled')
  await expect(sampled).toHaveCount(0)
  // Bursts of 400 a flush, for two seconds: more than the 200 a flush of the tail carries.
  const bursts = (async () => {
    for (let burst = 0; burst < 8; burst++) {
      for (let i = 0; i < 400; i++) {
        void host.bus.publish(
          BusMessage.create(
            ModuleId.DataCapture,
            MessagePayload.RawEvent({ eventType: 'keystroke', data: { burst, i }, timestamp: new Date() }),
          ),
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })()
  await expect(sampled).toHaveText('sampling under load')
  await bursts
  // Each routed to the one subscription, Storage's.
  await expect(page.getByTestId('tail-row').first().locator('td').nth(4)).toHaveText('1')
  // The burst over, the warning goes, though nothing more is published.
  await expect(sampled).toHaveCount(0)
})

test('the tail’s search finds a request and its reply by the request’s id; every match kept is listed', async ({
  page,
  host,
}) => {
  const stop = startLoad(host.bus)
  try {
    await openInspector(page, host)
    await page.getByTestId('tab-tail').click()
    await expect.poll(() => page.getByTestId('tail-row').count()).toBeGreaterThan(20)
    const request = gamificationTip({ note: 'searched for' })
    const reply = BusMessage.replyTo(
      request,
      ModuleId.AiIntegration,
      MessagePayload.InterventionResponse({
        requestId: request.payload.data.requestId,
        responseText: 'Take a short break.',
        animationCues: ['wave'],
      }),
    )
    await host.bus.publish(request)
    await host.bus.publish(reply)
    // The id in upper case: the search ignores case, and finds the reply by its correlation id.
    await page.getByTestId('tail-search').fill(request.id.toUpperCase())
    await expect
      .poll(() => tailColumn(page, 'type'))
      .toEqual(new Set(['InterventionRequest', 'InterventionResponse']))
    await expect(page.getByTestId('tail-row')).toHaveCount(2)
    // The reply's row: publish time to the millisecond, type (marked a reply), source, priority,
    // how many subscriptions it was routed to (none: no app window is open), and its data.
    const replyRow = page.getByTestId('tail-row').filter({ hasText: '↩' })
    expect(await replyRow.locator('td').allTextContents()).toEqual([
      clockTime(reply.timestamp, true),
      '↩ InterventionResponse',
      'ai-integration',
      'Normal',
      '0',
      expect.stringContaining('responseText: "Take a short break."'),
    ])
    // The data as the summary writes it: the reply's text.
    await page.getByTestId('tail-search').fill('short break')
    await expect(page.getByTestId('tail-row')).toHaveCount(1)
    await expect(page.getByTestId('tail-row')).toContainText('responseText: "Take a short break."')
    // The reply is marked as one; opened, it leads to its conversation: the request and its reply.
    await expect(page.getByTestId('tail-reply-mark')).toHaveAttribute('title', new RegExp(request.id))
    await page.getByTestId('tail-row').click()
    await page.getByTestId('tail-conversation').click()
    await expect(page.getByTestId('tail-search')).toHaveValue(request.id)
    await expect
      .poll(() => tailColumn(page, 'type'))
      .toEqual(new Set(['InterventionRequest', 'InterventionResponse']))
    await expect(page.getByTestId('tail-reply-mark')).toHaveCount(1)
    await page.screenshot({ path: test.info().outputPath('tail-conversation.png') })
    await page.getByTestId('tail-row').filter({ hasText: 'short break' }).click()
    await expect(page.getByTestId('tail-payload')).toHaveCount(0)
    await page.getByTestId('tail-search').fill('')
    // Every match the tail keeps is listed, and the rows in view are drawn: past a screenful, the
    // count and the table's row count say how many there are, and a window of them is drawn.
    await expect
      .poll(async () => listedIn(await page.getByTestId('tail-shown').textContent()), { timeout: 20_000 })
      .toBeGreaterThan(200)
    // Scrolled down, the rows in view stay put while newer ones arrive above them.
    const box = scrollBox(page.getByTestId('tail'))
    await box.evaluate((element) => element.scrollTo({ top: 600 }))
    const rowInView = () =>
      box.evaluate((element) => {
        const { left, top } = element.getBoundingClientRect()
        return document.elementFromPoint(left + 40, top + 80)?.closest('tr')?.textContent
      })
    const inViewBefore = await rowInView()
    const seenThen = seenIn(await page.getByTestId('tail-shown').textContent())
    await expect
      .poll(async () => seenIn(await page.getByTestId('tail-shown').textContent()))
      .toBeGreaterThan(seenThen + 50)
    expect(await rowInView()).toBe(inViewBefore)
    await page.getByTestId('tail-pause').click()
    const listed = listedIn(await page.getByTestId('tail-shown').textContent())
    await expect(page.getByTestId('tail')).toHaveAttribute('aria-rowcount', String(listed + 1))
    expect(await page.getByTestId('tail-row').count()).toBeLessThan(60)
    await scrollToBottom(page.getByTestId('tail'))
    await expect(page.getByTestId('tail-row').last()).toHaveAttribute('aria-rowindex', String(listed + 1))
  } finally {
    stop()
  }
})

for (const scheme of ['light', 'dark'] as const) {
  test(`every view renders at 1280×800 in ${scheme} (screenshots kept)`, async ({ page, host }, testInfo) => {
    await page.emulateMedia({ colorScheme: scheme })
    await host.bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      async () => {},
    )
    await subscribeSink(host.bus, () => true)
    const stop = startLoad(host.bus)
    try {
      await openInspector(page, host)
      await page.waitForTimeout(3000)
      for (const view of VIEWS) {
        await showView(page, view)
        if (view === 'subscriptions')
          await page.locator('[data-testid=subscriptions] tbody tr').first().click()
        const width = await page.evaluate(() => document.documentElement.scrollWidth)
        expect(width, `${view} fits 1280 px without horizontal scrolling`).toBeLessThanOrEqual(1280)
        await page.screenshot({ path: testInfo.outputPath(`${view}-${scheme}.png`) })
      }
    } finally {
      stop()
    }
  })
}

test('a narrowed inspector keeps every figure whole and scrolls only its wide tables', async ({
  page,
  host,
}) => {
  await subscribeSink(host.bus, () => true)
  const stop = startLoad(host.bus)
  try {
    await openInspector(page, host)
    await expect(page.locator('.kpi')).toHaveCount(8)
    for (const width of [760, 480]) {
      await page.setViewportSize({ width, height: 900 })
      await page.getByTestId('tab-overview').click()
      await page.waitForTimeout(1200)
      // A figure cut off ends in an ellipsis: its text is wider than the box that shows it.
      expect(await cutOff(page, '.kpi .value, .kpi .detail'), `figures cut off at ${width} px`).toEqual([])
      for (const view of VIEWS) {
        await showView(page, view)
        const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth)
        expect(
          pageWidth,
          `${view} at ${width} px scrolls within its table, not the page`,
        ).toBeLessThanOrEqual(width)
      }
    }
  } finally {
    stop()
  }
})

test('the views are a tab list the keyboard can walk', async ({ page, host }) => {
  await openInspector(page, host)
  const tabs = page.getByRole('tablist', { name: 'Inspector views' }).getByRole('tab')
  await expect(tabs).toHaveCount(7)
  const overview = page.getByRole('tab', { name: 'overview' })
  await overview.focus()
  // Only the selected tab is a tab stop; the arrows select their neighbour and wrap around.
  await expect(page.locator('[role=tab][tabindex="0"]')).toHaveCount(1)
  await page.keyboard.press('ArrowRight')
  const subscriptions = page.getByRole('tab', { name: 'subscriptions' })
  await expect(subscriptions).toBeFocused()
  await expect(subscriptions).toHaveAttribute('aria-selected', 'true')
  await expect(page.getByRole('tabpanel', { name: 'subscriptions' })).toBeVisible()
  await page.keyboard.press('ArrowLeft')
  await page.keyboard.press('ArrowLeft')
  await expect(page.getByRole('tab', { name: 'connections' })).toBeFocused()
  await page.keyboard.press('Home')
  await expect(overview).toHaveAttribute('aria-selected', 'true')
  await page.keyboard.press('End')
  await expect(page.getByRole('tabpanel', { name: 'connections' })).toBeVisible()
  await expect(page.locator('[role=tab][aria-selected=true]')).toHaveCount(1)
})

test('the overview names three subscriptions in trouble and counts the rest, and totals failures and dead letters', async ({
  page,
  host,
}) => {
  for (const module of ['sink-a', 'sink-b', 'sink-c', 'sink-d']) {
    await host.bus.subscribe(
      module,
      MessageFilter.types(['StateChange']),
      DeliveryMode.Reliable({ timeoutMs: 1000 }),
      async () => {
        throw new Error(`${module} is down`)
      },
    )
  }
  await openInspector(page, host)
  await expect(page.getByTestId('kpi-inflight-total')).toHaveText('4 subscriptions')
  for (let i = 0; i < 5; i++) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'idle', confidence: 0.5, timestamp: new Date() }),
      ),
    )
  }
  // Each of the four fails each of the five, and with no retry here, dead-letters it at once.
  await expect(page.getByTestId('kpi-failed-total')).toHaveText('20 total')
  await expect(page.getByTestId('kpi-dead-total')).toHaveText('20 held')
  await expect(page.getByTestId('verdict-trouble')).toHaveText(
    /^4 subscriptions in trouble: (sink-[a-d] \(failing\), ){2}sink-[a-d] \(failing\) and 1 more \(Subscriptions view\)$/,
  )
  // Held, not ever dead-lettered: purged, none is held.
  await host.bus.deadLetters.purge()
  await expect(page.getByTestId('kpi-dead-total')).toHaveText('0 held')
})

test('a module the registry holds Unhealthy makes the bus Degraded and is named in the verdict', async ({
  page,
  host,
}) => {
  await openInspector(page, host)
  await expect(page.getByText('healthy', { exact: true })).toBeVisible()
  // As the host's supervisor marks a module whose process died (it moves no message, so no queue
  // or latency would show it).
  host.bus.registry.setStatus('native-tracker', 'Unhealthy')
  await expect(page.getByTestId('verdict')).toContainText('Degraded')
  await expect(page.getByTestId('verdict')).toContainText('native-tracker is Unhealthy')
  await expect(page.getByText('degraded', { exact: true })).toBeVisible()
  host.bus.registry.setStatus('native-tracker', 'Healthy')
  await expect(page.getByTestId('verdict')).toContainText('Healthy')
})

test('with the hub gone, the last snapshot stays on screen marked as such, with no health badge', async ({
  page,
  host,
}) => {
  await openInspector(page, host)
  await expect(page.getByText('healthy', { exact: true })).toBeVisible()
  await expect(page.getByTestId('stale')).toHaveCount(0)
  // Nothing delivered yet: no latency to give, rather than a p99 of 0 µs.
  await expect(page.locator('.topbar')).toContainText('p99 – ·')
  await host.stop() // the fixture's own stop at the end finds it stopped
  await expect(page.getByTestId('connection')).not.toHaveText('open')
  await expect(page.getByTestId('stale')).toContainText('the last snapshot, taken at')
  await expect(page.getByText('healthy', { exact: true })).toHaveCount(0)
  // The figures stay readable: what the bus counted last is still there.
  await expect(page.getByTestId('kpi-published-total')).toBeVisible()
})

test('the keyboard expands a tail row and selects a subscription', async ({ page, host }) => {
  await subscribeSink(host.bus, () => false)
  const stop = startLoad(host.bus)
  try {
    await openInspector(page, host)
    await page.getByTestId('tab-tail').click()
    await page.getByTestId('tail-pause').click() // rows stay put while the keyboard walks them
    const row = page.getByTestId('tail-row').first()
    await row.focus()
    await page.keyboard.press('Enter')
    await expect(row).toHaveAttribute('aria-expanded', 'true')
    await expect(page.getByTestId('tail-payload')).toContainText('timestamp: Date(')
    await page.keyboard.press(' ')
    await expect(page.getByTestId('tail-payload')).toHaveCount(0)

    await page.getByTestId('tab-subscriptions').click()
    await page.locator('[data-testid=subscriptions] tbody tr').first().focus()
    await page.keyboard.press('Enter')
    await expect(page.locator('[data-testid=subscriptions] tbody tr.selected')).toHaveCount(1)
    await expect(page.getByText('Select a subscription to chart')).toHaveCount(0)
  } finally {
    stop()
  }
})

test('the subscriptions view sorts by any column both ways, says which, and marks the ones in trouble', async ({
  page,
  host,
}) => {
  const sink = (
    module: string,
    mode: DeliveryMode,
    handler: () => Promise<void>,
    types: MessageType[] = ['RawEvent'],
  ) => host.bus.subscribe(module, MessageFilter.types(types), mode, handler)
  await sink('alpha-sink', DeliveryMode.BestEffort, async () => {})
  await sink('beta-sink', DeliveryMode.Reliable({ timeoutMs: 1000 }), async () => {
    throw new Error('beta is down')
  })
  // Slow, and keeping the latest alone: what comes meanwhile is coalesced.
  const gamma = await sink(
    'gamma-sink',
    DeliveryMode.LatestOnly,
    () => new Promise((r) => setTimeout(r, 100)),
  )
  await sink('delta-sink', DeliveryMode.BestEffort, async () => {}, ['StateChange'])
  const { rows } = await openSubscriptions(page, host)
  await expect(rows).toHaveCount(4)
  for (let i = 0; i < 20; i++) {
    await host.bus.publish(
      BusMessage.create(
        ModuleId.DataCapture,
        MessagePayload.RawEvent({ eventType: 'keystroke', data: { i }, timestamp: new Date() }),
      ),
    )
  }
  const gammaNow = async () => (await host.bus.metrics()).subscriptions.find((s) => s.id === gamma)
  // Quiet once each of the 20 was either handled or replaced by a later one.
  await expect
    .poll(async () => {
      const { delivered = 0, coalesced = 0 } = (await gammaNow()) ?? {}
      return delivered + coalesced
    })
    .toBe(20)
  const header = (label: string) => page.getByTestId('subscriptions').locator('th', { hasText: label })
  const column = (n: number) => rows.locator(`td:nth-child(${n})`).allTextContents()
  const rowOf = (module: string) => rows.filter({ hasText: module })

  // Queue depth, deepest first, until told otherwise.
  await expect(header('queue')).toHaveAttribute('aria-sort', 'descending')
  await expect(header('queue')).toContainText('queue ▼')
  // A text column sorts A to Z first, then Z to A; the header says which.
  await header('module').getByRole('button').click()
  await expect(header('module')).toHaveAttribute('aria-sort', 'ascending')
  await expect(header('module')).toContainText('module ▲')
  await expect(header('queue')).toHaveAttribute('aria-sort', 'none')
  expect(await column(1)).toEqual(['alpha-sink', 'beta-sink', 'delta-sink', 'gamma-sink'])
  await header('module').getByRole('button').click()
  await expect(header('module')).toHaveAttribute('aria-sort', 'descending')
  expect(await column(1)).toEqual(['gamma-sink', 'delta-sink', 'beta-sink', 'alpha-sink'])
  // A number column sorts the most first.
  await header('delivered').getByRole('button').click()
  await expect(header('delivered')).toHaveAttribute('aria-sort', 'descending')
  await expect.poll(() => column(1).then((modules) => modules[0])).toBe('alpha-sink')
  const delivered = (await column(6)).map(Number)
  expect(delivered).toEqual([...delivered].sort((a, b) => b - a))

  // Coalesced copies count as dropped; no latency where nothing was delivered; the failing one stands out.
  const { coalesced = 0, dropped = 0 } = (await gammaNow()) ?? {}
  expect(coalesced).toBeGreaterThan(0)
  await expect(rowOf('gamma-sink').locator('td:nth-child(8)')).toHaveText(String(dropped + coalesced))
  await expect(rowOf('delta-sink').locator('td:nth-child(11)')).toHaveText('–')
  await expect(rowOf('beta-sink').locator('td:nth-child(12)')).toHaveText('failing')
  await expect(rowOf('alpha-sink').locator('td:nth-child(12)')).toHaveText('ok')

  // Selected, a row is charted; selected again, it is let go.
  await rowOf('alpha-sink').click()
  await expect(page.getByText('Select a subscription to chart')).toHaveCount(0)
  await rowOf('alpha-sink').click()
  await expect(page.getByText('Select a subscription to chart')).toBeVisible()
})

test('the subscriptions view narrows to one module and one mode, and says how many it shows', async ({
  page,
  host,
}) => {
  // An app may hold hundreds of subscriptions: 40 of one module's among a few of others'.
  for (let i = 0; i < 40; i++) {
    const mode = i % 2 === 0 ? DeliveryMode.Reliable() : DeliveryMode.BestEffort
    await host.bus.subscribe('busy-window', MessageFilter.types(['StateChange']), mode, () => {})
  }
  await host.bus.subscribe(
    'quiet-module',
    MessageFilter.types(['RawEvent']),
    DeliveryMode.LatestOnly,
    () => {},
  )
  const { table, rows } = await openSubscriptions(page, host)
  await expect(page.getByTestId('subscriptions-count')).toHaveText('41 subscriptions')
  await expect(table).toHaveAttribute('aria-rowcount', String(41 + 1)) // and the header row

  await page.getByTestId('subscriptions-filter-module').selectOption('busy-window')
  await expect(page.getByTestId('subscriptions-count')).toHaveText('41 subscriptions, 40 shown')
  await expect(table).toHaveAttribute('aria-rowcount', String(40 + 1))
  await page.getByTestId('subscriptions-filter-mode').selectOption('Reliable')
  await expect(page.getByTestId('subscriptions-count')).toHaveText('41 subscriptions, 20 shown')
  await expect(table).toHaveAttribute('aria-rowcount', String(20 + 1))
  expect(new Set(await rows.locator('td:nth-child(3)').allTextContents())).toEqual(new Set(['Reliable']))
  expect(new Set(await rows.locator('td:nth-child(1)').allTextContents())).toEqual(new Set(['busy-window']))

  await page.getByTestId('subscriptions-filter-module').selectOption('quiet-module')
  await expect(page.getByTestId('subscriptions-count')).toHaveText('41 subscriptions, 0 shown')
  await page.getByTestId('subscriptions-filter-mode').selectOption('')
  await expect(rows).toHaveCount(1)
})

test('each subscription shows what it is for, as its subscriber labelled it (screenshot kept)', async ({
  page,
  host,
}, testInfo) => {
  await host.bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.Reliable(),
    async () => {},
    { label: 'writes RawEvents to the event log' },
  )
  await host.bus.respond(
    ModuleId.AiIntegration,
    'InterventionRequest',
    { replyType: 'InterventionResponse' },
    (request) => ({ requestId: request.payload.data.requestId, responseText: 'Stretch!', animationCues: [] }),
  )
  await host.bus.request(gamificationTip(), { replyType: 'InterventionResponse' })
  await host.bus.subscribe(
    ModuleId.Orchestrator,
    MessageFilter.types(['StateChange']),
    DeliveryMode.LatestOnly,
    () => {},
  )
  const { rows } = await openSubscriptions(page, host)
  await expect(rows).toHaveCount(4)
  const labelOf = (module: string) => rows.filter({ hasText: module }).getByTestId('subscription-label')
  await expect(labelOf('storage')).toHaveText('writes RawEvents to the event log')
  await expect(labelOf('ai-integration')).toHaveText('answers with InterventionResponse')
  await expect(labelOf('gamification')).toHaveText('replies to its requests')
  // Unlabelled: the filter alone, as before labels.
  await expect(labelOf('orchestrator')).toHaveCount(0)
  await expect(rows.filter({ hasText: 'ai-integration' }).locator('.filter-cell')).toHaveAttribute(
    'title',
    'answers with InterventionResponse: types=[InterventionRequest] sources=*',
  )
  // Only the filter may be cut (its title holds it whole): a mode or a number cut off says nothing.
  expect(await cutOff(page, '[data-testid=subscriptions] tbody td:not(.filter-cell)')).toEqual([])
  // Its charts say which of the module's subscriptions they show: by label, or by filter.
  await rows.filter({ hasText: 'storage' }).click()
  await expect(page.getByTestId('chart-subscription-latency').locator('figcaption')).toHaveText(
    'storage · writes RawEvents to the event log · latency (per interval)',
  )
  await rows.filter({ hasText: 'orchestrator' }).click()
  await expect(page.getByTestId('chart-subscription-queue').locator('figcaption')).toHaveText(
    'orchestrator · types=[StateChange] sources=* · queue depth',
  )
  await page.screenshot({ path: testInfo.outputPath('subscription-labels.png') })
})

test('with a thousand subscriptions the view draws the rows in view, scrolls to the last, and charts the one selected beside them', async ({
  page,
  host,
  consoleErrors,
}, testInfo) => {
  const many = 1000
  const windowName = (i: number) => `window-${String(i).padStart(4, '0')}`
  for (let i = 0; i < many; i++)
    await host.bus.subscribe(
      windowName(i),
      MessageFilter.types(['StateChange']),
      DeliveryMode.BestEffort,
      () => {},
    )
  const { table, rows } = await openSubscriptions(page, host)
  await expect(table).toHaveAttribute('aria-rowcount', String(many + 1))
  // Drawing all of them at every snapshot took the page's thread 70–90 ms a second: a window is drawn.
  const drawn = await rows.count()
  expect(drawn).toBeGreaterThan(5)
  expect(drawn).toBeLessThan(60)

  // Sorted by module, the last row is the last window's; scrolled to the bottom, it is drawn.
  await page.getByRole('button', { name: 'module' }).click()
  await scrollToBottom(table)
  const last = rows.last()
  await expect(last).toHaveAttribute('aria-rowindex', String(many + 1))
  await expect(last.locator('td').first()).toHaveText(windowName(many - 1))
  await expect(last).toBeInViewport()

  // Its charts come under the table, not a thousand rows down the page.
  await last.click()
  await expect(last).toHaveClass(/selected/)
  await expect(page.getByTestId('chart-subscription-latency')).toBeInViewport()
  await page.screenshot({ path: testInfo.outputPath('subscriptions-thousand.png') })
  expect(consoleErrors).toEqual([])
})

test.describe('with a subscriber that stopped taking messages', () => {
  test.use({ hostOptions: { modules: [], bus: { maxQueueSize: 100 } } })

  test('the verdict and the type table say publishes are refused, and whose full queue refuses them', async ({
    page,
    host,
  }) => {
    await host.bus.subscribe(
      'stalled-sink',
      MessageFilter.types(['StateChange']),
      DeliveryMode.Reliable({ timeoutMs: 60_000 }),
      () => new Promise<void>(() => {}),
    )
    let refused = 0
    const publishing = setInterval(() => {
      for (let i = 0; i < 20; i++) {
        const change = MessagePayload.StateChange({
          state: 'focused',
          confidence: 0.9,
          timestamp: new Date(),
        })
        host.bus.publish(BusMessage.create(ModuleId.AnalysisEngine, change)).catch(() => refused++)
      }
    }, 50)
    try {
      await openInspector(page, host)
      // Its queue reads full too; the refusals are named on their own, with the queue that refuses.
      await expect(page.getByTestId('verdict')).toContainText(
        /Degraded.*publishes\/s refused: a queue is full \(stalled-sink's\)/,
      )
      await expect(page.getByTestId('verdict-trouble')).toContainText('stalled-sink (')
      const refusedCell = page.locator('[data-testid=type-traffic] tr[data-type=StateChange] td').last()
      await expect
        .poll(async () => Number((await refusedCell.textContent())?.replaceAll(',', '')))
        .toBeGreaterThan(0)
      await expect(refusedCell).toHaveClass(/warn/)
    } finally {
      clearInterval(publishing)
    }
    await expect.poll(async () => (await host.bus.metrics()).messagesQueueFull).toBe(refused)
    expect(refused).toBeGreaterThan(0)
  })
})

test.describe('with a subscriber that stalled and one that delivered before the window opened', () => {
  test.use({ hostOptions: { modules: [] } })

  test('their charts start with what the hub saw before the window opened: the queue of one, the latency of the other', async ({
    page,
    host,
    consoleErrors,
  }, testInfo) => {
    await host.bus.subscribe(
      'stalled-sink',
      MessageFilter.types(['StateChange']),
      DeliveryMode.Reliable({ timeoutMs: 60_000 }),
      () => new Promise<void>(() => {}),
    )
    await host.bus.subscribe(
      'quick-sink',
      MessageFilter.types(['StateChange']),
      DeliveryMode.BestEffort,
      () => {},
    )
    // A few a second, while the hub keeps a point a second whether or not a window watches.
    for (let i = 0; i < 30; i++) {
      const change = MessagePayload.StateChange({ state: 'focused', confidence: 0.9, timestamp: new Date() })
      await host.bus.publish(BusMessage.create(ModuleId.AnalysisEngine, change))
      await page.waitForTimeout(120)
    }
    const openedAt = Date.now() / 1000
    const { rows } = await openSubscriptions(page, host)
    const stalled = rows.filter({ hasText: 'stalled-sink' })
    await stalled.click()
    await expect(stalled).toHaveClass(/selected/)
    const queue = page.getByTestId('chart-subscription-queue')
    const latency = page.getByTestId('chart-subscription-latency')
    // Without the hub's points the chart would start with the window's first snapshot.
    expect(Number(await queue.getAttribute('data-from'))).toBeLessThan(openedAt - 2)
    expect(Number(await queue.getAttribute('data-points'))).toBeGreaterThanOrEqual(3)
    expect(Number(await queue.getAttribute('data-valued-from'))).toBeLessThan(openedAt - 2)
    // It delivered nothing: no latency at any point.
    await expect(latency).toHaveAttribute('data-from', (await queue.getAttribute('data-from')) ?? '')
    expect(await latency.getAttribute('data-valued-from')).toBeNull()
    await page.screenshot({ path: testInfo.outputPath('subscription-opened-late.png') })
    const quick = rows.filter({ hasText: 'quick-sink' })
    await quick.click()
    await expect(quick).toHaveClass(/selected/)
    // Its latency from the hub's points, in the intervals it delivered in, before the window opened.
    await expect
      .poll(async () => Number((await latency.getAttribute('data-valued-from')) ?? Number.NaN))
      .toBeLessThan(openedAt - 2)
    await page.screenshot({ path: testInfo.outputPath('latency-opened-late.png') })
    expect(consoleErrors).toEqual([])
  })
})

test.describe('with DataCapture publishing faster than Storage can write', () => {
  // 20,000 events a second against a backlog of 50 at the route's producer: Storage writes about
  // half that here, so the producer refuses the rest (the slower the machine, the more).
  test.use({
    hostOptions: {
      modules: ['data-capture', 'storage'],
      bus: { maxQueueSize: 50 },
      moduleOptions: { 'data-capture': { rate: 20_000 } },
    },
  })

  test('the routes view writes under the backlog how many publishes its producer refused', async ({
    page,
    host,
  }) => {
    await modulesReady(host)
    await openInspector(page, host)
    await page.getByTestId('tab-routes').click()
    const refused = page.getByTestId('route-queue-full-data-capture')
    await expect(refused).toHaveText(/^[\d,]+ refused$/)
    await expect.poll(async () => numberIn(await refused.textContent())).toBeGreaterThan(0)
    const route = (await host.bus.metrics()).routes.find((r) => r.producer === ModuleId.DataCapture)
    expect(route?.queueFull ?? 0).toBeGreaterThanOrEqual(numberIn(await refused.textContent()))
    await page.getByTestId('tab-overview').click()
    await expect(page.getByTestId('verdict')).toContainText(
      "publishes/s refused: a queue is full (storage's)",
    )
  })
})

test.describe('with the module pipeline running', () => {
  test.use({ hostOptions: { bus: {} } })

  test('the routes view shows the direct routes carrying the hot paths', async ({ page, host }, testInfo) => {
    await modulesReady(host)
    await openInspector(page, host)
    await page.getByTestId('tab-routes').click()
    await expect(page.getByTestId('route-state-data-capture')).toHaveText('active')
    const shown = page.getByTestId('route-delivered-data-capture')
    await expect
      .poll(async () => numberIn(await shown.textContent()), { timeout: 10_000 })
      .toBeGreaterThan(20)
    // What the view shows comes from bus.metrics(): the count there is at least as high by now.
    const onScreen = numberIn(await shown.textContent())
    const route = (await host.bus.metrics()).routes.find((r) => r.producer === ModuleId.DataCapture)
    expect(route?.state).toBe('active')
    expect(route?.delivered ?? 0).toBeGreaterThanOrEqual(onScreen)
    // The route's rate is live: DataCapture publishes 40 a second in its active phases.
    await expect
      .poll(async () => numberIn(await page.getByTestId('route-rate-data-capture').textContent()), {
        timeout: 10_000,
      })
      .toBeGreaterThan(0)
    await page.screenshot({ path: testInfo.outputPath('routes-active.png') })
  })

  test('the connections view lists every endpoint attached, over what, and one that misbehaves', async ({
    page,
    host,
  }, testInfo) => {
    await modulesReady(host)
    const app = await page.context().newPage()
    await app.goto(host.urls.app)
    await expect(app.getByTestId('connection')).toHaveText('open')
    // An endpoint that sends the hub a frame it should not, and never says hello.
    const { port1, port2 } = new MessageChannel()
    host.hub.attach(port1, { module: 'misbehaving', permissions: { publish: [], subscribe: [] } })
    port2.postMessage([{ t: 'nonsense' }])
    await openInspector(page, host)
    await page.getByTestId('tab-connections').click()
    const row = (module: string) => page.locator(`[data-testid="connection-row"][data-module="${module}"]`)
    for (const module of ['ai-integration', 'analysis-engine', 'data-capture', 'gamification', 'storage'])
      await expect(row(module).getByTestId('connection-transport')).toHaveText('MessagePort')
    // Windows attach through the browser bridge's WebSocket here (a MessagePort in Electron).
    await expect(row('cute-figurine').getByTestId('connection-transport')).toHaveText('WebSocket')
    await expect(row('inspector').getByTestId('connection-transport')).toHaveText('WebSocket')
    await expect(row('inspector')).toContainText('metrics, tail')
    expect(
      numberIn(await row('storage').getByTestId('connection-subscriptions').textContent()),
    ).toBeGreaterThan(0)
    await expect(row('misbehaving').getByTestId('connection-bad-frames')).toHaveText('1')
    await expect(row('misbehaving')).toContainText('greeting')
    // The overview names it beside the verdict, which is the bus's health and stays as it was.
    await page.getByTestId('tab-overview').click()
    await expect(page.getByTestId('verdict-bad-frames')).toHaveText(
      '1 connection sending frames the hub refuses: misbehaving (1 bad frame) (Connections view)',
    )
    await page.getByTestId('tab-connections').click()
    await page.screenshot({ path: testInfo.outputPath('connections.png') })
    // One that leaves is no longer listed.
    await app.close()
    await expect(row('cute-figurine')).toHaveCount(0)
    port2.close()
    // A connection's subscriptions open the Subscriptions view narrowed to its module.
    await row('storage').getByTestId('connection-subscriptions').getByRole('button').click()
    await expect(page.getByRole('tab', { name: 'subscriptions' })).toHaveAttribute('aria-selected', 'true')
    await expect(page.getByTestId('subscriptions-filter-module')).toHaveValue('storage')
    const modulesShown = await page
      .locator('[data-testid=subscriptions] tbody tr[aria-rowindex] td:first-child')
      .allTextContents()
    expect(new Set(modulesShown)).toEqual(new Set(['storage']))
    // Chosen from the tab list, the view shows every module again.
    await page.getByTestId('tab-overview').click()
    await page.getByTestId('tab-subscriptions').click()
    await expect(page.getByTestId('subscriptions-filter-module')).toHaveValue('')
  })

  test('the modules view shows the errors each module reported since it started: the settings it refused', async ({
    page,
    host,
  }, testInfo) => {
    await modulesReady(host)
    // Sent before the inspector opens: the registry keeps what each module reported.
    await host.orchestrator.configure('rate', 'fast', ModuleId.DataCapture)
    await host.orchestrator.configure('cooldownMs', -1, ModuleId.Gamification)
    await expect.poll(() => host.bus.registry.get(ModuleId.DataCapture)?.errorsReported).toBe(1)
    await openInspector(page, host)
    await page.getByTestId('tab-modules').click()
    await expect(page.getByTestId('errors-data-capture')).toHaveText(
      /^1 · \d+s ago · ConfigRejected: 'rate' takes events per second, above 0 \(got "fast"\)$/,
    )
    await host.orchestrator.configure('rate', 0, ModuleId.DataCapture)
    await expect(page.getByTestId('errors-data-capture')).toHaveText(
      /^2 · \d+s ago · ConfigRejected: 'rate' takes events per second, above 0 \(got 0\)$/,
    )
    await expect(page.getByTestId('errors-gamification')).toHaveText(
      /^1 · \d+s ago · ConfigRejected: 'cooldownMs' takes milliseconds, 0 or more \(got -1\)$/,
    )
    await expect(page.getByTestId('errors-storage')).toHaveCount(0)
    // The demo's AnalysisComplete has no subscriber: its publisher's row says they went to no one.
    await expect
      .poll(async () => numberIn(await page.getByTestId('unrouted-analysis-engine').textContent()))
      .toBeGreaterThan(0)
    expect(await cutOff(page, '[data-testid=modules] td.num, [data-testid=modules] th')).toEqual([])
    // Every column in view at the window's 1280 px: nothing to scroll sideways for.
    const sideways = await page
      .locator('.modules .table-scroll')
      .evaluate((scroller) => scroller.scrollWidth - scroller.clientWidth)
    expect(sideways).toBeLessThanOrEqual(0)
    await page.screenshot({ path: testInfo.outputPath('modules-errors.png') })
  })

  test('the tail lists the newest publish first, a direct route’s sample among the hub’s messages', async ({
    page,
    host,
  }) => {
    await modulesReady(host)
    await openInspector(page, host)
    await page.getByTestId('tab-tail').click()
    // DataCapture's keystrokes (with a window title) take its direct route: their sample reaches
    // the inspector with the producer's report, after the health checks the hub streamed at once.
    const rows = page.getByTestId('tail-row')
    await expect
      .poll(async () => listedIn(await page.getByTestId('tail-shown').textContent()), { timeout: 10_000 })
      .toBeGreaterThan(40)
    // Both among the rows in view (the newest ones): the samples are not left below the others.
    await page.getByTestId('tail-pause').click()
    expect(await rows.filter({ hasText: 'windowTitle' }).count()).toBeGreaterThan(2)
    expect(await rows.and(page.locator('[data-type=HealthCheck]')).count()).toBeGreaterThan(2)
    const times = await rows.evaluateAll((all) => all.map((row) => Number((row as HTMLElement).dataset.time)))
    expect(times).toEqual([...times].sort((a, b) => b - a))
  })
})
