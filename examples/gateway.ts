/**
 * The README's WebSocket gateway example, main side: an outside process attaches as
 * `native-tracker` with the credentials written here (see `examples/ws-client.mjs` for the client).
 * Run: `npx tsx examples/gateway.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEventBus } from '../src/main/bus/index.js'
import { createHub } from '../src/main/hub/index.js'
import { startGateway } from '../src/main/node/ws-gateway.js'

const bus = createEventBus()
await bus.start()
const hub = createHub(bus)
const appDataDir = await mkdtemp(join(tmpdir(), 'skelly-gateway-'))

const gateway = await startGateway(hub, {
  port: 0, // any free port, on 127.0.0.1 only
  modules: [{ module: 'native-tracker', permissions: { publish: ['RawEvent'], subscribe: [] } }],
})
await gateway.writeCredentials('native-tracker', appDataDir) // { url, module, token }, mode 0600

console.log('gateway listening at', gateway.url)
await gateway.close()
await bus.shutdown()
hub.close()
await rm(appDataDir, { recursive: true })
