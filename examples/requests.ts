/**
 * The README's request and reply example, type-checked; run it with `npx tsx examples/requests.ts`.
 */
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../src/main/bus/index.js'

const bus = createEventBus()
await bus.start()

// The answering side: a reply is a message whose correlationId is the request's id.
await bus.subscribe(
  ModuleId.AiIntegration,
  MessageFilter.types(['InterventionRequest']),
  DeliveryMode.Reliable({ timeoutMs: 2000 }),
  async (request) => {
    const { requestId } = request.payload.data
    const answer = MessagePayload.InterventionResponse({
      requestId,
      responseText: 'Stretch!',
      animationCues: [],
    })
    await bus.publish(BusMessage.replyTo(request, ModuleId.AiIntegration, answer))
  },
)

// The asking side: publish, then wait for the reply that names this request (typed by replyType).
const tip = MessagePayload.InterventionRequest({
  requestId: crypto.randomUUID(),
  interventionType: 'tip',
  urgency: 'low',
  context: {},
})
const reply = await bus.request(BusMessage.create(ModuleId.CuteFigurine, tip), {
  replyType: 'InterventionResponse',
  timeoutMs: 2000, // then DeliveryTimeout; the default is 5000
})
console.log(reply.payload.data.responseText)

await bus.shutdown()
