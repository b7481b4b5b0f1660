/**
 * Values that pass validation but no structured clone takes (a Proxy: nothing in JavaScript can
 * tell one from its target, so the bus's publish check cannot refuse it). A unit holding one used
 * to throw out of the link's flush, in a microtask: an uncaught exception, and every frame of the
 * unit lost.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { DeliveryMode, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import type { HubOptions } from '../../src/main/hub/index.js'
import {
  type BuiltinCatalog,
  connectBus,
  fromNodePort,
  type PermissionsOf,
  type TypeOf,
} from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'

const catalog = { 'app.Note': z.object({ text: z.string(), extra: z.unknown() }) }

function note(text: string, extra: unknown = null) {
  return {
    id: crypto.randomUUID(),
    timestamp: new Date(),
    source: ModuleId.DataCapture,
    payload: { type: 'app.Note' as const, data: { text, extra } },
    priority: 1 as const,
  }
}

/** Passes the bus's checks, yet structured clone throws on it. */
const uncloneable = () => new Proxy({ label: 'proxied' }, {})

async function setup(hubOptions: HubOptions = {}) {
  const { bus, hub } = await startHub(
    { catalog, maxRetryAttempts: 1, retry: { initialMs: 5, maxMs: 10 } },
    hubOptions,
  )
  const attach = async (
    module: string,
    permissions: PermissionsOf<TypeOf<BuiltinCatalog & typeof catalog>>,
  ) => {
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module, permissions })
    afterThisTest(() => port2.close())
    return connectBus(fromNodePort(port2), { module, catalog })
  }
  return { bus, hub, attach }
}

/** Storage attached and subscribed (Reliable) to notes; the texts it handled, in order. */
async function storageReceiving(attach: Awaited<ReturnType<typeof setup>>['attach']): Promise<string[]> {
  const storage = await attach(ModuleId.Storage, { publish: [], subscribe: ['app.Note'] })
  const got: string[] = []
  await storage.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['app.Note']),
    DeliveryMode.Reliable({ timeoutMs: 1_000 }),
    (message) => {
      got.push(message.payload.data.text)
    },
  )
  return got
}

describe('a frame that cannot be cloned', () => {
  it('fails only its own delivery: the others in its unit arrive, it is retried and dead-lettered', async () => {
    const { bus, attach } = await setup()
    const got = await storageReceiving(attach)
    // Published in one tick: the three deliveries leave in one unit.
    await Promise.all([
      bus.publish(note('first') as never),
      bus.publish(note('bad', uncloneable()) as never),
      bus.publish(note('last') as never),
    ])
    await waitFor(() => bus.deadLetters.list().length === 1)
    expect(got).toEqual(['first', 'last'])
    const [entry] = bus.deadLetters.list()
    expect(entry).toMatchObject({ reason: 'MaxRetriesExceeded', attempts: 2 })
    expect(entry?.lastError).toMatch(/the delivery could not be sent to this endpoint: .*could not be cloned/)
    const subscription = (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage)
    expect(subscription).toMatchObject({ delivered: 2, deadLettered: 1, retried: 1 })
    // The endpoint is still attached and served.
    await bus.publish(note('after') as never)
    await waitFor(() => got.length === 3)
  })

  it('refuses an answer that cannot be sent, and keeps answering the endpoint', async () => {
    const { bus, attach } = await setup()
    await storageReceiving(attach)
    await bus.publish(note('bad', uncloneable()) as never)
    await waitFor(() => bus.deadLetters.list().length === 1)
    // The dead letter holds the message that cannot travel: listing it over a port cannot be sent.
    const inspector = await attach(ModuleId.Orchestrator, { publish: [], subscribe: [], inspect: true })
    await expect(inspector.deadLetters.list()).rejects.toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/the answer could not be sent to this endpoint: .*could not be cloned/),
    })
    expect(await inspector.deadLetters.purge({})).toBe(1)
    await expect(inspector.deadLetters.list()).resolves.toEqual([])
  })

  it('says on the endpoint’s console when a tail entry for it cannot be sent, and sends the others', async () => {
    const { bus, attach } = await setup()
    const inspector = await attach(ModuleId.Orchestrator, { publish: [], subscribe: [], inspect: true })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    afterThisTest(() => consoleError.mockRestore())
    const tail: string[] = []
    await inspector.onTail((entries) => {
      for (const entry of entries) tail.push((entry.message.payload.data as { text: string }).text)
    })
    // Published in one tick, the three travel in one tail frame.
    await Promise.all([
      bus.publish(note('before') as never),
      bus.publish(note('bad', uncloneable()) as never),
      bus.publish(note('after') as never),
    ])
    await waitFor(() => consoleError.mock.calls.length > 0)
    expect(consoleError).toHaveBeenCalledTimes(1)
    expect(consoleError).toHaveBeenCalledWith(
      expect.stringMatching(
        /the hub reports: .*a 'tail' frame could not be sent to this endpoint: .*could not be cloned/,
      ),
    )
    await waitFor(() => tail.includes('after'))
    expect(tail).toEqual(['before', 'after'])
    // The stream goes on.
    await bus.publish(note('fine') as never)
    await waitFor(() => tail.includes('fine'))
  })

  it('refuses the publish that cannot be sent to the hub, and sends the rest of its batch', async () => {
    const { bus, attach } = await setup()
    const got: string[] = []
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['app.Note']), DeliveryMode.BestEffort, (m) => {
      got.push((m.payload.data as { text: string }).text)
    })
    const capture = await attach(ModuleId.DataCapture, { publish: ['app.Note'], subscribe: [] })
    const results = await Promise.allSettled([
      capture.publish(note('first')),
      capture.publish(note('bad', uncloneable())),
      capture.publish(note('last')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      kind: 'MessageRejected',
      reason: expect.stringMatching(/the 'pubs' frame could not be sent to the hub: .*could not be cloned/),
    })
    await waitFor(() => got.length === 2)
    expect(got).toEqual(['first', 'last'])
  })

  it('fails only its own delivery on a direct route: retried, then counted as dead-lettered', async () => {
    const { bus, hub, attach } = await setup({
      routes: [{ producer: ModuleId.DataCapture, consumer: ModuleId.Storage, types: ['app.Note'] }],
    })
    const got = await storageReceiving(attach)
    const capture = await attach(ModuleId.DataCapture, { publish: ['app.Note'], subscribe: [] })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    afterThisTest(() => consoleError.mockRestore())
    const [route] = hub.routes()
    await waitFor(() => route?.state === 'active')
    await Promise.all([
      capture.publish(note('first')),
      capture.publish(note('bad', uncloneable())),
      capture.publish(note('last')),
    ])
    // The producer retries it and gives up; the message itself cannot reach the hub's dead-letter
    // queue (it cannot travel there either), so the producer's report counts it and its console
    // says why.
    const noteCounts = async () =>
      (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage)
    await waitFor(async () => (await noteCounts())?.deadLettered === 1)
    expect(got).toEqual(['first', 'last'])
    expect(await noteCounts()).toMatchObject({ delivered: 2, retried: 1, deadLettered: 1 })
    expect(bus.deadLetters.list()).toEqual([])
    expect(consoleError).toHaveBeenCalledWith(
      expect.stringMatching(/a 'rdead' frame could not be sent and was dropped: .*could not be cloned/),
    )
    expect(route?.state).toBe('active')
    await capture.publish(note('after'))
    await waitFor(() => got.length === 3)
  })
})
