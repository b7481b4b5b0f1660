/**
 * Gamification: rewards focused stretches (RewardEvent) and, at most once per `cooldownMs`, asks for
 * an intervention when the user drifts into distraction or idleness (InterventionRequest).
 */
import { ModuleId } from '../shared/catalog.js'
import { monotonicMs } from '../shared/clock.js'
import { DeliveryMode } from '../shared/delivery-mode.js'
import { MessageFilter } from '../shared/filter.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import { defineModule } from './define.js'
import { moduleOptionSchemas, settingValue } from './options.js'

export default defineModule({
  id: ModuleId.Gamification,
  permissions: { publish: ['RewardEvent', 'InterventionRequest'], subscribe: ['StateChange'] },
  options: moduleOptionSchemas.gamification,
  async start(bus, { options }) {
    let { cooldownMs } = options
    let lastIntervention = Number.NEGATIVE_INFINITY
    let streak = 0
    await bus.subscribe(
      ModuleId.Gamification,
      MessageFilter.types(['StateChange']),
      DeliveryMode.Reliable({ timeoutMs: 2000 }),
      async (message) => {
        const { state, confidence } = message.payload.data
        if (state === 'focused') {
          streak++
          await bus.publish(
            BusMessage.create(
              ModuleId.Gamification,
              MessagePayload.RewardEvent({
                rewardId: crypto.randomUUID(),
                rewardType: streak % 5 === 0 ? 'streak' : 'focus',
                points: Math.max(1, Math.round(5 * confidence)) * (streak % 5 === 0 ? 3 : 1),
                description: streak % 5 === 0 ? `${streak} focused stretches in a row!` : 'Nice focus',
              }),
            ),
          )
          return
        }
        streak = 0
        if (monotonicMs() - lastIntervention < cooldownMs) return
        lastIntervention = monotonicMs()
        await bus.publish(
          BusMessage.create(
            ModuleId.Gamification,
            MessagePayload.InterventionRequest({
              requestId: crypto.randomUUID(),
              interventionType: state === 'idle' ? 'wake-up' : 'refocus',
              urgency: confidence > 0.7 ? 'high' : 'low',
              context: { state, confidence },
            }),
          ),
        )
      },
      { label: 'rewards focus, asks for interventions' },
    )
    return {
      stop() {},
      configure(key, value) {
        if (key !== 'cooldownMs') return false
        cooldownMs = settingValue(moduleOptionSchemas.gamification, key, value)
        return true
      },
    }
  },
})
