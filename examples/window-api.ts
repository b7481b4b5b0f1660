/**
 * The README's `window.skellyBus` example: renderer code, type-checked against the bridge's
 * declaration (`src/preload/skelly-bus.d.ts`). It runs in a window of the app, not on its own.
 */
import type { AnimationCommand } from '../src/shared/catalog.js'

declare function play(command: AnimationCommand): void
declare function say(text: string): void
declare function askUser(question: string): Promise<string>
const requestId = crypto.randomUUID()

const id = await window.skellyBus.publish('InterventionRequest', {
  requestId,
  interventionType: 'tip',
  urgency: 'low',
  context: {},
})
const sub = await window.skellyBus.subscribe({ types: ['AnimationCommand'] }, { kind: 'LatestOnly' }, (msg) =>
  play(msg.payload.data),
)
await window.skellyBus.unsubscribe(sub)
const reply = await window.skellyBus.request(
  'InterventionRequest',
  { requestId: crypto.randomUUID(), interventionType: 'tip', urgency: 'low', context: {} },
  { replyType: 'InterventionResponse', timeoutMs: 8000 }, // priority and correlationId may be set too
)
say(reply.payload.data.responseText) // typed by replyType
// Answers requests sent to this window (its grants permitting) with what the function returns:
const answering = await window.skellyBus.respond(
  'InterventionRequest',
  { replyType: 'InterventionResponse' }, // Reliable unless a mode is given
  async (request) => ({
    requestId: request.payload.data.requestId,
    responseText: await askUser(request.payload.data.interventionType),
    animationCues: [], // typed by replyType too
  }),
)
await window.skellyBus.unsubscribe(answering)
window.skellyBus.module // this window's identity, bound by the main process

export { id }
