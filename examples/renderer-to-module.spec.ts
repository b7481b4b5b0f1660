/**
 * The README's Playwright example: a test of renderer-to-module messaging in the app window, against
 * a fresh headless host (from `e2e/fixtures.ts`). Playwright runs it with the end-to-end tests (its
 * `examples` project), so the README's example is checked by running it, not only by compiling it.
 */
import { expect, openApp, test } from '../e2e/fixtures.js'

test('a request published from the app window is answered by AiIntegration', async ({ page, host }) => {
  await openApp(page, host) // modules up, the window's bus connection open
  // In the page, as the window's own code would: subscribe to answers, publish, await the answer.
  const answer = await page.evaluate(async () => {
    const requestId = crypto.randomUUID()
    const answered = new Promise<string>((resolve) => {
      void window.skellyBus.subscribe({ types: ['InterventionResponse'] }, { kind: 'BestEffort' }, (msg) => {
        if (msg.payload.data.requestId === requestId) resolve(msg.payload.data.responseText)
      })
    })
    await window.skellyBus.publish('InterventionRequest', {
      requestId,
      interventionType: 'tip',
      urgency: 'low',
      context: {},
    })
    return answered
  })
  expect(answer).not.toBe('')
  // In the main process: the hub's bus counted the window's request and the module's answer.
  const metrics = await host.bus.metrics()
  expect(metrics.modules['cute-figurine']?.published).toBeGreaterThanOrEqual(1)
  expect(metrics.types.InterventionResponse?.published).toBeGreaterThanOrEqual(1)
})
