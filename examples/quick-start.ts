/**
 * The README's quick start, kept here so `npm run typecheck` compiles it (and `npx tsx` runs it).
 */
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../src/main/bus/index.js'

const bus = createEventBus({ maxQueueSize: 5_000 })
await bus.start()

// Reliable: the handler's settled promise is the ack; failures are retried, then dead-lettered.
await bus.subscribe(
  ModuleId.Storage,
  MessageFilter.types(['RawEvent']),
  DeliveryMode.Reliable({ timeoutMs: 5000 }),
  async (msg) => {
    console.log('storing', msg.payload.data.eventType, 'from', msg.source) // typed: RawEvent only
  },
  { label: 'writes RawEvents to the event log' }, // optional: what it is for, shown by the inspector
)

const id = await bus.publish(
  BusMessage.create(
    ModuleId.DataCapture,
    MessagePayload.RawEvent({ eventType: 'keystroke', data: { key: 'a' }, timestamp: new Date() }),
  ),
)
console.log('published', id)

await bus.shutdown() // stops accepting, drains what is queued and in flight
const metrics = await bus.metrics()
console.log('delivered', metrics.messagesDelivered, 'p99', metrics.deliveryLatency.p99Ms, 'ms')
