/**
 * The README's hub example, kept here so `npm run typecheck` compiles it (and `npx tsx` runs it).
 * Both ends live in one thread for brevity; normally port2 goes to a worker, a utility process or
 * a window.
 */
import { MessageChannel } from 'node:worker_threads'
import { BusMessage, createEventBus, DeliveryMode, MessagePayload, ModuleId } from '../src/main/bus/index.js'
import { createHub } from '../src/main/hub/index.js'
import { connectBus } from '../src/shared/index.js'

const bus = createEventBus()
await bus.start()
const hub = createHub(bus, { reconnectGraceMs: 30_000, heartbeatMs: 5_000 })

const { port1, port2 } = new MessageChannel() // port2 goes to a worker, a utility process, a window
hub.attach(port1, {
  module: ModuleId.Storage,
  permissions: { publish: ['StorageStatus'], subscribe: ['RawEvent'] },
})

// In the endpoint:
const storage = await connectBus(port2, { module: ModuleId.Storage })
await storage.subscribe(
  ModuleId.Storage,
  { types: ['RawEvent'] },
  DeliveryMode.Reliable({ timeoutMs: 5000 }),
  async (msg) => {
    console.log('store', msg.payload.data.eventType)
  },
)

await bus.publish(
  BusMessage.create(
    ModuleId.DataCapture,
    MessagePayload.RawEvent({ eventType: 'click', data: {}, timestamp: new Date() }),
  ),
)
await bus.shutdown()
hub.close()
