/**
 * DataCapture: synthetic user activity (keystrokes, mouse moves, window focus changes) published as
 * RawEvents at a configurable rate (option `rate`, events per second, default 10). Activity moves
 * through phases (focused typing, distracted switching, idle, each `phaseMs` long) so the pipeline
 * downstream has something to notice. A ConfigUpdate changes either option while it runs.
 */
import { ModuleId } from '../shared/catalog.js'
import { monotonicMs } from '../shared/clock.js'
import type { JsonValue } from '../shared/json.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import { defineModule } from './define.js'
import { moduleOptionSchemas, settingValue } from './options.js'
import { skippedPublishes } from './skipped-publishes.js'

const TICK_MS = 100
const PHASES = [
  { name: 'focused', weight: { keystroke: 0.85, mouse_move: 0.13, window_focus: 0.02 }, activity: 1 },
  { name: 'distracted', weight: { keystroke: 0.2, mouse_move: 0.5, window_focus: 0.3 }, activity: 1 },
  { name: 'idle', weight: { keystroke: 0.3, mouse_move: 0.6, window_focus: 0.1 }, activity: 0.03 },
] as const
const WINDOWS = ['main.ts — Editor', 'Pull request #42', 'Chat', 'News', 'Terminal']
const KEYS = 'the quick brown fox jumps over the lazy dog'

function pick<T>(weights: Record<string, number>, random: number): T {
  let sum = 0
  for (const [key, weight] of Object.entries(weights)) {
    sum += weight
    if (random < sum) return key as T
  }
  return Object.keys(weights)[0] as T
}

export default defineModule({
  id: ModuleId.DataCapture,
  permissions: { publish: ['RawEvent'], subscribe: [] },
  // Its RawEvents from the first tick on are Storage's to write.
  startsAfter: [ModuleId.Storage],
  options: moduleOptionSchemas['data-capture'],
  start(bus, { options, log }) {
    const skipped = skippedPublishes(bus, log)
    let { rate, phaseMs } = options
    const startedAt = monotonicMs()
    let owed = 0
    let sent = 0
    const timer = setInterval(() => {
      const phase = PHASES[Math.floor((monotonicMs() - startedAt) / phaseMs) % PHASES.length] ?? PHASES[0]
      owed += (rate * phase.activity * TICK_MS) / 1000
      for (; owed >= 1; owed--) {
        const eventType = pick<keyof typeof phase.weight>(phase.weight, Math.random())
        const data: JsonValue =
          eventType === 'keystroke'
            ? { key: KEYS[sent % KEYS.length] ?? ' ' }
            : eventType === 'mouse_move'
              ? { x: Math.round(Math.random() * 1920), y: Math.round(Math.random() * 1080) }
              : { from: WINDOWS[sent % WINDOWS.length] ?? '' }
        const windowTitle = WINDOWS[phase.name === 'focused' ? 0 : sent % WINDOWS.length]
        sent++
        bus
          .publish(
            BusMessage.create(
              ModuleId.DataCapture,
              MessagePayload.RawEvent({ eventType, data, windowTitle, timestamp: new Date() }),
            ),
          )
          // A full Storage queue refuses (QueueFull): this event is skipped, the next ones follow,
          // and the skips are said.
          .catch((error: unknown) => skipped.skip('RawEvent', error))
      }
    }, TICK_MS)
    return {
      stop: () => {
        clearInterval(timer)
        return skipped.stop()
      },
      // Both options apply from the next tick; a new phaseMs may move the activity to another phase.
      configure(key, value) {
        if (key === 'rate') rate = settingValue(moduleOptionSchemas['data-capture'], key, value)
        else if (key === 'phaseMs') phaseMs = settingValue(moduleOptionSchemas['data-capture'], key, value)
        else return false
        return true
      },
    }
  },
})
