/**
 * AiIntegration: answers each InterventionRequest with an InterventionResponse (its reply, by
 * `respond`) and an AnimationCommand for the figurine, correlated to the request too. The "AI" is
 * a small table of friendly lines: the point is the message flow, not the model.
 */
import { ModuleId } from '../shared/catalog.js'
import { DeliveryMode } from '../shared/delivery-mode.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import { defineModule } from './define.js'
import { moduleOptionSchemas } from './options.js'

const RESPONSES: Record<string, { lines: string[]; animation: string; cues: string[] }> = {
  refocus: {
    lines: [
      'Let’s pick one thing and finish it.',
      'Tabs can wait — back to the good stuff?',
      'Deep breath. One task.',
    ],
    animation: 'wave',
    cues: ['wave', 'point'],
  },
  'wake-up': {
    lines: ['Still there? A stretch might help.', 'Time for a tiny walk?'],
    animation: 'bounce',
    cues: ['bounce', 'yawn'],
  },
  tip: {
    lines: ['Try 25 minutes on, 5 minutes off.', 'Close what you are not using.', 'Water break!'],
    animation: 'spin',
    cues: ['spin', 'sparkle'],
  },
}

export default defineModule({
  id: ModuleId.AiIntegration,
  permissions: { publish: ['InterventionResponse', 'AnimationCommand'], subscribe: ['InterventionRequest'] },
  options: moduleOptionSchemas['ai-integration'],
  async start(bus) {
    let said = 0
    // Each request's answer is its InterventionResponse (respond publishes it as the reply); the
    // figurine's AnimationCommand goes out first, naming the request too. A refused publish of
    // either fails the request, which is retried.
    await bus.respond(
      ModuleId.AiIntegration,
      'InterventionRequest',
      { replyType: 'InterventionResponse', mode: DeliveryMode.Reliable({ timeoutMs: 2000 }) },
      async (request) => {
        const kind = RESPONSES[request.payload.data.interventionType] ?? RESPONSES.tip!
        await bus.publish(
          BusMessage.replyTo(
            request,
            ModuleId.AiIntegration,
            MessagePayload.AnimationCommand({
              commandId: crypto.randomUUID(),
              animationType: kind.animation,
              parameters: { intensity: request.payload.data.urgency === 'high' ? 2 : 1 },
              durationMs: 1500,
            }),
          ),
        )
        return {
          requestId: request.payload.data.requestId,
          responseText: kind.lines[said++ % kind.lines.length] ?? '',
          animationCues: kind.cues,
        }
      },
    )
    return { stop() {} }
  },
})
