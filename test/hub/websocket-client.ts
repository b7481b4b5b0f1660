/** An endpoint attached through the WebSocket gateway, as an outside process attaches. */
import WebSocket from 'ws'
import type { Hub } from '../../src/main/hub/index.js'
import { startGateway } from '../../src/main/node/ws-gateway.js'
import { connectBus } from '../../src/shared/index.js'
import { fromWebSocket } from '../../src/shared/port.js'
import { afterThisTest } from './fixture.js'

/** `module` attached to `hub` through a gateway of its own (may publish and subscribe anything), closed after the test. */
export async function overWebSocket(hub: Hub, module: string) {
  const gateway = await startGateway(hub, {
    modules: [{ module, permissions: { publish: '*', subscribe: '*' } }],
  })
  const socket = new WebSocket(gateway.url, {
    headers: { authorization: `Bearer ${gateway.tokenFor(module)}` },
  })
  const client = await connectBus(fromWebSocket(socket), { module })
  afterThisTest(async () => {
    await client.close()
    await gateway.close()
  })
  return client
}
