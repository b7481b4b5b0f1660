/**
 * The app window end to end, in Debian's Chromium against the headless host: real worker-thread
 * modules, the real hub, the browser bridge over a loopback WebSocket.
 */

import type { Page } from '@playwright/test'
import { BusMessage, MessageFilter, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { windows } from '../../src/main/host/windows.js'
import type { HeadlessHost } from '../../src/main/node/headless.js'
import { storedEventIds } from '../event-log.js'
import {
  droppableSockets,
  expect,
  gamificationTip,
  observe,
  openApp,
  openInspector,
  test,
} from '../fixtures.js'

/** A count as the app window writes it: digits in groups of three. */
const COUNT = /^\d{1,3}(,\d{3})*$/

test.afterEach(async ({ page }, testInfo) => {
  await page.screenshot({ path: testInfo.outputPath('app-window.png') })
})

test('the app window loads with no console errors and shows the live pipeline', async ({
  page,
  host,
  consoleErrors,
}) => {
  await openApp(page, host)
  await expect(page.getByTestId('state')).toHaveText(/focused|distracted|idle/)
  await expect(page.getByTestId('stored')).toHaveText(COUNT)
  expect(consoleErrors).toEqual([])
})

test('a narrowed app window keeps every card inside it', async ({ page, host }) => {
  await openApp(page, host)
  await expect(page.getByTestId('stored')).toHaveText(COUNT)
  for (const width of [600, 420]) {
    await page.setViewportSize({ width, height: 800 })
    // The header spans the page's column; a card wider than its share runs past it, into the
    // margin and, narrower still, off the window.
    const outside = await page.evaluate(() => {
      // The widest figures the cards show (measured before the next render can change them).
      const show = (testId: string, text: string) => {
        const element = document.querySelector(`[data-testid=${testId}]`)
        if (element) element.textContent = text
      }
      show('state', 'distracted')
      show('points', '123,456')
      show('stored', '12,345,678')
      const right = document.querySelector('header')?.getBoundingClientRect().right ?? 0
      return [...document.querySelectorAll<HTMLElement>('.card, .speech, .controls button')]
        .filter((element) => element.getBoundingClientRect().right > right + 0.5)
        .map((element) => element.textContent)
    })
    expect(outside, `parts past the page's column at ${width} px`).toEqual([])
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
  }
})

test('the app window opened as localhost, not 127.0.0.1, connects as well', async ({ page, host }) => {
  // The host prints 127.0.0.1; a user may type localhost. The gateway refused that page's
  // socket by its Origin, and the window stayed on 'reconnecting'.
  await page.goto(host.urls.app.replace('127.0.0.1', 'localhost'))
  await expect(page.getByTestId('connection')).toHaveText('open')
  await expect(page.getByTestId('stored')).toHaveText(COUNT)
})

test('with the hub gone, the buttons wait for the connection and say so', async ({ page, host }) => {
  await openApp(page, host)
  await expect(page.getByTestId('ask')).toBeEnabled()
  await expect(page.getByTestId('offline')).toHaveCount(0)
  await host.stop() // the fixture's own stop at the end finds it stopped
  await expect(page.getByTestId('connection')).toHaveText('reconnecting')
  // A click would otherwise wait unanswered, then blame the AI module 8 s later.
  await expect(page.getByTestId('ask')).toBeDisabled()
  await expect(page.getByTestId('poke')).toBeDisabled()
  await expect(page.getByTestId('ask')).toHaveAttribute('title', 'Waiting for the connection to the bus')
  await expect(page.getByTestId('offline')).toHaveText('The connection to the bus dropped; reconnecting…')
})

test('the full pipeline makes the figurine react on its own', async ({ page, host }) => {
  // DataCapture → Storage → EventBatch → AnalysisEngine → StateChange → Gamification →
  // InterventionRequest → AiIntegration → AnimationCommand → this window. No clicks.
  await openApp(page, host)
  await expect(page.locator('svg.figurine')).not.toHaveAttribute('data-reactions', '0', { timeout: 30_000 })
  // Types on direct routes are counted when their producer reports (every 250 ms): poll.
  for (const type of ['RawEvent', 'EventBatch', 'StateChange', 'InterventionRequest', 'AnimationCommand']) {
    await expect
      .poll(async () => (await host.bus.metrics()).types[type]?.published ?? 0, { message: type })
      .toBeGreaterThan(0)
  }
})

test.describe('reload', () => {
  test.use({ hostOptions: { modules: [] } })

  /** Publishes `count` RewardEvents as Gamification; resolves with their reward ids. */
  async function publishRewards(host: HeadlessHost, count: number) {
    const ids: string[] = []
    for (let i = 0; i < count; i++) {
      const rewardId = crypto.randomUUID()
      ids.push(rewardId)
      const reward = MessagePayload.RewardEvent({
        rewardId,
        rewardType: 'test',
        points: 1,
        description: `reward ${i}`,
      })
      await host.bus.publish(BusMessage.create(ModuleId.Gamification, reward))
    }
    return ids
  }

  /** The id of the window's Reliable subscription at the hub, once it has one. */
  async function reliableSubscriptionOf(host: HeadlessHost) {
    let id: string | undefined
    await expect
      .poll(async () => {
        const { subscriptions } = await host.bus.metrics()
        id = subscriptions.find((s) => s.module === 'cute-figurine' && s.mode === 'Reliable')?.id
        return id
      })
      .toBeDefined()
    return id
  }

  /** The reward ids the page kept. */
  const receivedBy = (page: Page) =>
    page.evaluate(() =>
      (JSON.parse(sessionStorage.getItem('skelly.rewards') ?? '[]') as { rewardId: string }[]).map(
        (r) => r.rewardId,
      ),
    )

  test('re-attaches, and its Reliable subscription loses nothing across the reload', async ({
    page,
    host,
  }) => {
    await openApp(page, host)
    await reliableSubscriptionOf(host)
    const sent = await publishRewards(host, 10)
    await expect(page.getByTestId('reward-count')).toHaveAttribute('data-count', '10')
    const reload = page.reload()
    sent.push(...(await publishRewards(host, 10))) // while the page is gone: held for it
    await reload
    await expect(page.getByTestId('connection')).toHaveText('open')
    sent.push(...(await publishRewards(host, 5)))
    await expect(page.getByTestId('reward-count')).toHaveAttribute('data-count', '25')
    expect(new Set(await receivedBy(page))).toEqual(new Set(sent))
    expect(host.bus.deadLetters.list()).toEqual([])
  })

  test('takes back its own Reliable subscription when its socket drops, with what came meanwhile', async ({
    page,
    host,
    consoleErrors,
  }) => {
    const network = await droppableSockets(page)
    await openApp(page, host)
    const before = await reliableSubscriptionOf(host)
    const sent = await publishRewards(host, 5)
    await expect(page.getByTestId('reward-count')).toHaveAttribute('data-count', '5')
    await network.drop()
    await expect(page.getByTestId('connection')).toHaveText('reconnecting')
    sent.push(...(await publishRewards(host, 10))) // held for it at the hub
    network.reconnect()
    await expect(page.getByTestId('connection')).toHaveText('open', { timeout: 20_000 })
    await expect(page.getByTestId('reward-count')).toHaveAttribute('data-count', '15')
    // The same subscription, asked for by its id over the WebSocket, not a new one.
    expect(await reliableSubscriptionOf(host)).toBe(before)
    expect(new Set(await receivedBy(page))).toEqual(new Set(sent))
    expect(host.bus.deadLetters.list()).toEqual([])
    expect(consoleErrors).toEqual([])
  })
})

test('a killed module worker is restarted, shows in the registry, and Storage loses no Reliable event', async ({
  page,
  host,
}) => {
  await openApp(page, host)
  await expect.poll(() => host.bus.registry.get('storage')?.status).toBe('Healthy')
  const captured = await observe(host, MessageFilter.typesAndSources(['RawEvent'], [ModuleId.DataCapture]))
  await expect.poll(() => captured.messages.length).toBeGreaterThan(20)
  await host.supervisor.kill('storage')
  await expect.poll(() => host.bus.registry.get('storage')?.status).not.toBe('Healthy')
  await expect.poll(() => host.supervisor.states().find((s) => s.moduleId === 'storage')?.restarts).toBe(1)
  await expect.poll(() => host.bus.registry.get('storage')?.status).toBe('Healthy')
  const checked = captured.messages.map((message) => message.id) // all must end up in the file
  await expect
    .poll(async () => {
      const stored = await storedEventIds(host.dataDir)
      return checked.filter((id) => !stored.has(id)).length
    })
    .toBe(0)
  await expect(page.getByTestId('stored')).toHaveText(COUNT)
  // The inspector's Modules view says how its process ended: killed, exit code 1, no error.
  const inspector = await page.context().newPage()
  await openInspector(inspector, host)
  await inspector.getByTestId('tab-modules').click()
  await expect(inspector.getByTestId('restarts-storage')).toHaveText('1')
  await expect(inspector.getByTestId('last-exit-storage')).toHaveText(/^\d+s ago · exit 1$/)
  // Its direct route from DataCapture fell back to the hub once, and was set up again.
  await inspector.getByTestId('tab-routes').click()
  await expect(inspector.getByTestId('route-fallbacks-data-capture')).toHaveText('1')
  await expect(inspector.getByTestId('route-state-data-capture')).toHaveText('active')
})

test('a page cannot publish as another module or a forbidden type', async ({ page, host }) => {
  await openApp(page, host)
  const spoofed = await page.evaluate(async () => {
    const message = {
      id: crypto.randomUUID(),
      timestamp: new Date(),
      source: 'storage',
      priority: 1,
      payload: { type: 'RawEvent', data: { eventType: 'spoof', data: {}, timestamp: new Date() } },
    }
    return window.skellyBus.publish(message as never).then(
      () => 'accepted',
      (error: { kind: string; action?: string; message: string }) => error,
    )
  })
  expect(spoofed).toMatchObject({
    kind: 'Unauthorized',
    action: 'source',
    message: expect.stringContaining('cute-figurine'),
  })
  const forbidden = await page.evaluate(() =>
    window.skellyBus.publish('Shutdown', { moduleId: 'storage', timeoutMs: 0, saveState: false }).then(
      () => 'accepted',
      (error: { kind: string; action?: string; type?: string; message: string }) => error,
    ),
  )
  expect(forbidden).toMatchObject({ kind: 'Unauthorized', action: 'publish', type: 'Shutdown' })
  expect((forbidden as { message: string }).message).toMatch(/may not publish 'Shutdown'/)
  expect(host.bus.registry.get('storage')?.status).not.toBe('ShuttingDown')
})

test('a page’s request gets its reply, and an unanswered or malformed one a plain error it can read', async ({
  page,
  host,
}) => {
  await openApp(page, host)
  const outcomes = await page.evaluate(async () => {
    const tip = () => ({
      requestId: crypto.randomUUID(),
      interventionType: 'tip',
      urgency: 'low',
      context: {},
    })
    const settle = (request: Promise<{ payload: { type: string } }>) =>
      request.then(
        (reply) => ({ replied: reply.payload.type }),
        (error: { kind: string; message: string }) => ({ kind: error.kind, message: error.message }),
      )
    return {
      answered: await settle(
        window.skellyBus.request('InterventionRequest', tip(), { replyType: 'InterventionResponse' }),
      ),
      // Storage says its StorageStatus every few seconds, never as a reply to this.
      unanswered: await settle(
        window.skellyBus.request('InterventionRequest', tip(), {
          replyType: 'StorageStatus',
          timeoutMs: 300,
        }),
      ),
      misspelt: await settle(
        window.skellyBus.request('InterventionRequest', tip(), { replyTyp: 'InterventionResponse' } as never),
      ),
      ungranted: await settle(
        window.skellyBus.request('InterventionRequest', tip(), { replyType: 'Shutdown' }),
      ),
    }
  })
  expect(outcomes.answered).toEqual({ replied: 'InterventionResponse' })
  expect(outcomes.unanswered).toMatchObject({
    kind: 'DeliveryTimeout',
    message: expect.stringMatching(
      /^DeliveryTimeout: no StorageStatus replied to InterventionRequest .+ within 300 ms/,
    ),
  })
  expect(outcomes.misspelt).toMatchObject({
    kind: 'Configuration',
    message: expect.stringContaining('"replyTyp"'),
  })
  expect(outcomes.ungranted).toMatchObject({
    kind: 'Unauthorized',
    message:
      "Unauthorized: module 'cute-figurine' may not subscribe 'Shutdown'; grant it in the attachment's permissions",
  })
})

test('a tip nobody answers in time says so, and the button comes back', async ({ page, host }) => {
  // Before the bridge defines it: the window's requests ask for a reply no module sends, and wait
  // half a second for it, so the window meets a real DeliveryTimeout from its bus.
  await page.addInitScript(() => {
    let bus: typeof window.skellyBus | undefined
    Object.defineProperty(window, 'skellyBus', {
      configurable: true,
      get: () => bus,
      set: (real: typeof window.skellyBus) => {
        const unanswered = (type: never, data: never, options: object) =>
          real.request(type, data, { ...options, replyType: 'StorageStatus', timeoutMs: 500 })
        bus = { ...real, request: unanswered as typeof real.request }
      },
    })
  })
  await openApp(page, host)
  await page.getByTestId('ask').click()
  await expect(page.getByTestId('error')).toHaveText(
    'No answer from Skelly in time — the AI module may be busy. Try again in a moment.',
  )
  await expect(page.getByTestId('ask')).toBeEnabled()
  await expect(page.getByTestId('ask')).toHaveText('Ask Skelly for a tip')
})

test.describe('without the AI module', () => {
  test.use({ hostOptions: { modules: [] } })

  test('a tip is refused at once, saying the AI module is not running', async ({ page, host }) => {
    await openApp(page, host)
    await page.getByTestId('ask').click()
    // Long before the request's own timeout (the app's ANSWER_TIMEOUT_MS, 8 s) would have said it.
    await expect(page.getByTestId('error')).toHaveText(
      'Skelly’s AI module is not running — try again once it has started.',
      { timeout: 4000 },
    )
    await expect(page.getByTestId('ask')).toBeEnabled()
    await page.screenshot({ path: test.info().outputPath('no-ai-module.png') })
  })
})

test.describe('a window that answers requests', () => {
  // No modules, so the window is the only one that answers; its grants widened to do so.
  test.use({
    hostOptions: {
      modules: [],
      windowPermissions: {
        app: {
          publish: [...windows.app.permissions.publish, 'InterventionResponse'],
          subscribe: [...windows.app.permissions.subscribe, 'InterventionRequest'],
        },
      },
    },
  })

  test('answers the main process’s request with what the page’s answer returns', async ({ page, host }) => {
    await openApp(page, host)
    // In the page, as a window's own code would answer: the reply's data, from the request's.
    await page.evaluate(() =>
      window.skellyBus.respond('InterventionRequest', { replyType: 'InterventionResponse' }, (request) => ({
        requestId: request.payload.data.requestId,
        responseText: `${document.title} saw a ${request.payload.data.interventionType}`,
        animationCues: ['wave'],
      })),
    )
    const request = gamificationTip()
    const reply = await host.bus.request(request, { replyType: 'InterventionResponse' })
    expect(reply).toMatchObject({
      source: ModuleId.CuteFigurine,
      correlationId: request.id,
      payload: {
        data: {
          requestId: request.payload.data.requestId,
          responseText: 'Skelly-Jelly saw a tip',
          animationCues: ['wave'],
        },
      },
    })
  })
})
