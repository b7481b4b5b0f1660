/** What hub tests share: cleanups run after each test, and a bus with a hub closed after it. */
import { afterEach } from 'vitest'
import { type Catalog, createEventBus, type EventBusOptions } from '../../src/main/bus/index.js'
import { createHub, type HubOptions } from '../../src/main/hub/index.js'

type Cleanup = () => Promise<void> | void

const cleanups: Cleanup[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs each cleanup after the current test; later ones first (what was started last stops first). */
export function afterThisTest(...cleanup: Cleanup[]): void {
  cleanups.push(...cleanup)
}

/** A started bus and a hub on it (heartbeat off unless given), both closed after the test. */
export async function startHub<X extends Catalog = Record<never, never>>(
  options: EventBusOptions<X> = {},
  hubOptions: HubOptions = {},
) {
  const bus = createEventBus(options)
  await bus.start()
  const hub = createHub(bus, { heartbeatMs: 0, ...hubOptions })
  afterThisTest(async () => {
    hub.close()
    await bus.shutdown({ drainTimeoutMs: 0 })
  })
  return { bus, hub }
}
