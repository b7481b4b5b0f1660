/**
 * The README's `window.skellyBus` example: renderer code, type-checked against the bridge's
 * declaration (`src/preload/skelly-bus.d.ts`). It runs in a window of the app, not on its own.
 */
import type { AnimationCommand } from '../src/shared/catalog.js'

declare function play(command: AnimationCommand): void
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
window.skellyBus.module // this window's identity, bound by the main process

export { id }
