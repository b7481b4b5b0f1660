/**
 * The README's Playwright example: a test of renderer-to-module messaging in the app window, against
 * a fresh headless host (from `e2e/fixtures.ts`). Playwright runs it with the end-to-end tests (its
 * `examples` project), so the README's example is checked by running it, not only by compiling it.
 */
import { expect, observe, openApp, test } from '../e2e/fixtures.js'
import { MessageFilter, ModuleId } from '../src/main/bus/index.js'

test('a request published from the app window is answered by AiIntegration', async ({ page, host }) => {
  await openApp(page, host) // modules up, the window's bus connection open
  // In the page, as the window's own code would: a request, and the reply that names it.
  const answer = await page.evaluate(async () => {
    const reply = await window.skellyBus.request(
      'InterventionRequest',
      { requestId: crypto.randomUUID(), interventionType: 'tip', urgency: 'low', context: {} },
      { replyType: 'InterventionResponse' },
    )
    return reply.payload.data.responseText
  })
  expect(answer).not.toBe('')
  // In the main process: the hub's bus counted the window's request and the module's answer.
  const metrics = await host.bus.metrics()
  expect(metrics.modules['cute-figurine']?.published).toBeGreaterThanOrEqual(1)
  expect(metrics.types.InterventionResponse?.published).toBeGreaterThanOrEqual(1)
})

test('the window’s “Ask Skelly for a tip” reaches AiIntegration, whose answer Skelly says', async ({
  page,
  host,
}) => {
  // In the main process: keep every request and answer the bus delivers from now on.
  const requests = await observe(host, MessageFilter.types(['InterventionRequest']))
  const answers = await observe(host, MessageFilter.types(['InterventionResponse']))
  await openApp(page, host)
  await page.getByRole('button', { name: 'Ask Skelly for a tip' }).click()
  // The window's request, then AiIntegration's answer to that very request (its correlationId).
  const request = await requests.next((msg) => msg.source === ModuleId.CuteFigurine)
  const answer = await answers.next((msg) => msg.correlationId === request.id)
  expect(answer.source).toBe(ModuleId.AiIntegration)
  expect(answer.payload.data.requestId).toBe(request.payload.data.requestId)
  // The answer lands in the window's status region, which screen readers announce.
  await expect(page.getByRole('status')).toHaveText(answer.payload.data.responseText)
})
