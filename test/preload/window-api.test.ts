/**
 * `window.skellyBus.unsubscribe` stops delivery at once, as `unsubscribe` does in process: on an
 * open connection it reaches the endpoint client before anything else can run.
 */
import { describe, expect, it } from 'vitest'
import { DeliveryMode, ModuleId } from '../../src/main/bus/index.js'
import { createWindowApi } from '../../src/preload/window-api.js'
import { connectClient, startHub } from '../hub/fixture.js'

describe('the window API', () => {
  it('unsubscribes on an open connection before its promise yields a tick', async () => {
    const { hub } = await startHub()
    const client = await connectClient(hub, ModuleId.Storage)
    const unsubscribed: string[] = []
    const unsubscribe = client.unsubscribe.bind(client)
    client.unsubscribe = (id: string) => {
      unsubscribed.push(id)
      return unsubscribe(id)
    }
    // One connection; once the test closes it, the window waits for another that never comes.
    let connections = 0
    const api = createWindowApi(ModuleId.Storage, () =>
      connections++ === 0 ? Promise.resolve(client) : new Promise(() => {}),
    )
    await new Promise<void>((resolve) => api.onConnection((state) => state === 'open' && resolve()))
    const id = await api.subscribe({ types: ['RawEvent'] }, DeliveryMode.BestEffort, () => {})
    const done = api.unsubscribe(id)
    // Synchronously: no microtask ran between the call and the client's unsubscribe.
    expect(unsubscribed).toHaveLength(1)
    await done
    await expect(api.unsubscribe(id)).rejects.toMatchObject({ kind: 'SubscriptionNotFound' })
  })
})
