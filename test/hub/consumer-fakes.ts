/** Fakes of the hub and the producer around a direct route's consumer, for channel tests. */
import { MessageChannel } from 'node:worker_threads'
import type { BusMessage, DeliveryMode } from '../../src/main/bus/index.js'
import { connectBus } from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'
import { afterThisTest, type RawFrame } from './fixture.js'

const consumerGrant = { publish: [], subscribe: ['RawEvent'] }
const rawEvents = { types: ['RawEvent'] }

/** The limits a fake hub gives a direct channel: small, and no retries. */
export const fakeChannelLimits = {
  maxQueueSize: 10,
  maxMessageBytes: 4096,
  maxRetryAttempts: 0,
  retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
  window: 8,
}

/**
 * A real client as a route's consumer, with this test playing the hub and the producer around it:
 * subscribed (`sid-1`) with `handler`, and given the consumer's end of channel `r.1`. `toHub` and
 * `fromConsumer` collect what it sends each way; `answer(t)` answers its latest request of kind `t`.
 */
export async function consumerAroundFakes(
  mode: DeliveryMode,
  handler: (message: BusMessage<'RawEvent'>) => unknown,
) {
  const hubSide = new MessageChannel()
  const clientReady = connectBus(hubSide.port2)
  const toHub: RawFrame[] = []
  hubSide.port1.on('message', (unit: typeof toHub) => toHub.push(...unit))
  hubSide.port1.postMessage([
    { t: 'welcome', v: 1, module: 'storage', permissions: consumerGrant, workers: 4, heartbeatMs: 0 },
  ])
  const client = await clientReady
  afterThisTest(() => client.close())
  const answer = async (t: string, ok: unknown = null) => {
    await waitFor(() => toHub.some((f) => f.t === t))
    const rid = toHub.filter((f) => f.t === t).at(-1)?.rid
    hubSide.port1.postMessage([{ t: 'res', rid, ok }])
  }
  const subscribing = client.subscribe('storage', rawEvents, mode, handler as never)
  await answer('sub', 'sid-1')
  await subscribing
  const direct = new MessageChannel()
  const route = {
    t: 'route',
    id: 'r.1',
    role: 'consumer',
    peer: 'data-capture',
    types: ['RawEvent'],
    port: 0,
    limits: fakeChannelLimits,
  }
  hubSide.port1.postMessage({ skellyTransfer: true, data: [route], ports: [direct.port2] }, [direct.port2])
  const fromConsumer: RawFrame[] = []
  direct.port1.on('message', (unit: typeof fromConsumer) => fromConsumer.push(...unit))
  afterThisTest(() => direct.port1.close())
  /** Closes the channel as its producer's death would; the first counts the consumer sends then. */
  const closeChannel = async () => {
    direct.port1.close()
    await waitFor(() => toHub.some((f) => f.t === 'rfin'))
    return toHub.find((f) => f.t === 'rfin')
  }
  return { client, toHub, answer, direct, fromConsumer, closeChannel }
}
