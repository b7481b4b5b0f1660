/**
 * AnalysisEngine: classifies each EventBatch into a state with a simple rule (activity rate, share
 * of window switches and mouse moves) and publishes AnalysisComplete and StateChange, the latter at
 * High priority when the state changes.
 */
import { type EventBatch, MessagePriority, ModuleId } from '../shared/catalog.js'
import { DeliveryMode } from '../shared/delivery-mode.js'
import { MessageFilter } from '../shared/filter.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import { defineModule } from './define.js'
import { moduleOptionSchemas } from './options.js'

export type ActivityState = 'focused' | 'distracted' | 'idle'

/** The rule: few events is idle; many switches or mostly mouse is distracted; otherwise focused. */
export function classify(batch: EventBatch): { state: ActivityState; confidence: number } {
  const seconds = Math.max(0.001, (batch.windowEnd.getTime() - batch.windowStart.getTime()) / 1000)
  const total = batch.events.length
  const perSecond = total / seconds
  if (perSecond < 0.5) return { state: 'idle', confidence: Math.min(1, 1 - perSecond) }
  const share = (type: string) => batch.events.filter((event) => event.eventType === type).length / total
  const switching = share('window_focus')
  const mouse = share('mouse_move')
  if (switching > 0.15 || mouse > 0.45) {
    return { state: 'distracted', confidence: Math.min(1, Math.max(switching / 0.3, mouse / 0.6)) }
  }
  return { state: 'focused', confidence: Math.min(1, share('keystroke') / 0.8) }
}

export default defineModule({
  id: ModuleId.AnalysisEngine,
  permissions: { publish: ['AnalysisComplete', 'StateChange'], subscribe: ['EventBatch'] },
  options: moduleOptionSchemas['analysis-engine'],
  async start(bus) {
    let current: ActivityState | undefined
    await bus.subscribe(
      ModuleId.AnalysisEngine,
      MessageFilter.types(['EventBatch']),
      DeliveryMode.Reliable({ timeoutMs: 2000 }),
      async (message) => {
        const batch = message.payload.data
        const { state, confidence } = classify(batch)
        // Taken before any await: handlers of this subscription run side by side, and one that read
        // the state after its first publish would compare it with a batch not yet done, or none.
        const previous = current
        current = state
        const transition = previous !== undefined && previous !== state
        const rounded = Math.round(confidence * 100) / 100
        await bus.publish(
          BusMessage.create(
            ModuleId.AnalysisEngine,
            MessagePayload.AnalysisComplete({
              windowId: crypto.randomUUID(),
              state,
              confidence: rounded,
              startTime: batch.windowStart,
              endTime: batch.windowEnd,
            }),
          ),
        )
        await bus.publish(
          BusMessage.withPriority(
            ModuleId.AnalysisEngine,
            MessagePayload.StateChange({
              state,
              confidence: rounded,
              timestamp: new Date(),
              ...(transition ? { transitionFrom: previous } : {}),
            }),
            transition ? MessagePriority.High : MessagePriority.Normal,
          ),
        )
      },
      { label: 'classifies batches into StateChange' },
    )
    return { stop() {} }
  },
})
