/**
 * The README's request and reply example, type-checked; run it with `npx tsx examples/requests.ts`.
 */
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  isEventBusError,
  MessagePayload,
  ModuleId,
} from '../src/main/bus/index.js'

const bus = createEventBus()
await bus.start()

// The answering side: respond returns the reply's data; the reply is published for it, naming the request.
await bus.respond(
  ModuleId.AiIntegration,
  'InterventionRequest',
  { replyType: 'InterventionResponse', mode: DeliveryMode.Reliable({ timeoutMs: 2000 }) },
  (request) => ({ requestId: request.payload.data.requestId, responseText: 'Stretch!', animationCues: [] }),
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

// Nothing of Storage's takes InterventionRequests: refused at once, not after the timeout.
const refused = await bus
  .request(BusMessage.create(ModuleId.CuteFigurine, tip), {
    replyType: 'InterventionResponse',
    from: ModuleId.Storage,
  })
  .catch((error: unknown) => error)
console.log(isEventBusError(refused) && refused.kind) // 'SubscriberUnavailable'

await bus.shutdown()
