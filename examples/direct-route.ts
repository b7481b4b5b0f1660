/**
 * A direct route: DataCapture's RawEvents go straight to Storage over a port pair the hub set up
 * (one hop); the hub keeps counting them and takes their dead letters. Run: `npx tsx examples/direct-route.ts`.
 */
import { MessageChannel } from 'node:worker_threads'
import { BusMessage, createEventBus, DeliveryMode, MessagePayload, ModuleId } from '../src/main/bus/index.js'
import { createHub } from '../src/main/hub/index.js'
import { connectBus } from '../src/shared/index.js'

const bus = createEventBus()
await bus.start()
const hub = createHub(bus)
const route = hub.route({ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['RawEvent'] })
// route.state: 'waiting' → 'establishing' → 'active'; route.revoke() withdraws it for good

// Each endpoint attaches as usual (in the app, each end lives in its own worker or utility process).
const capturePorts = new MessageChannel()
const storagePorts = new MessageChannel()
hub.attach(capturePorts.port1, {
  module: ModuleId.DataCapture,
  permissions: { publish: ['RawEvent'], subscribe: [] },
})
hub.attach(storagePorts.port1, {
  module: ModuleId.Storage,
  permissions: { publish: [], subscribe: ['RawEvent'] },
})
const storage = await connectBus(storagePorts.port2, { module: ModuleId.Storage })
const capture = await connectBus(capturePorts.port2, { module: ModuleId.DataCapture })

let stored = 0
await storage.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.Reliable(), () => {
  stored++
})
while (route.state !== 'active') await new Promise((resolve) => setTimeout(resolve, 5))

// Publishing is unchanged: the client sends routed types over the direct channel by itself.
const keystroke = { eventType: 'keystroke', data: { key: 'a' }, timestamp: new Date() }
for (let i = 0; i < 100; i++)
  await capture.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(keystroke)))

await new Promise((resolve) => setTimeout(resolve, 400)) // the producer reports every 250 ms
const { messagesPublished, messagesDelivered, routes } = await bus.metrics()
console.log({ stored, messagesPublished, messagesDelivered, route: routes[0]?.state })
await capture.close()
await storage.close()
await bus.shutdown()
hub.close()
