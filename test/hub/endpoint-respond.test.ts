/**
 * `client.respond` across a port: the grants are checked before anything is subscribed (the reply
 * type must be granted to publish, the request type to subscribe), and a reply the hub refuses
 * fails the request's delivery there, so the hub retries it and dead-letters it with the reason.
 * Answers through the hub and over direct routes are in endpoint-requests.test.ts, whose
 * AiIntegration answers with `respond`.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import {
  BusMessage,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import { connectBus, type Permissions } from '../../src/shared/index.js'
import { validData } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'

const ANSWERER: Permissions = { publish: ['InterventionResponse'], subscribe: ['InterventionRequest'] }
const REPLY = { replyType: 'InterventionResponse' } as const

/** AiIntegration's client, attached with `permissions`, closed after the test. */
async function aiIntegration(hub: Hub, permissions: Permissions = ANSWERER) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module: ModuleId.AiIntegration, permissions })
  const client = await connectBus(port2)
  afterThisTest(() => client.close())
  return client
}

async function subscriptionsOf(bus: EventBus, module: string) {
  return (await bus.metrics()).subscriptions.filter((subscription) => subscription.module === module)
}

function tip() {
  return BusMessage.create(
    ModuleId.CuteFigurine,
    MessagePayload.InterventionRequest(validData.InterventionRequest()),
  )
}

describe('client.respond', () => {
  it('refuses a reply type this endpoint may not publish, before subscribing', async () => {
    const { bus, hub } = await startHub()
    const client = await aiIntegration(hub, { publish: [], subscribe: ['InterventionRequest'] })
    await expect(
      client.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () =>
        validData.InterventionResponse(),
      ),
    ).rejects.toMatchObject({
      kind: 'Unauthorized',
      module: ModuleId.AiIntegration,
      action: 'publish',
      type: 'InterventionResponse',
    })
    expect(await subscriptionsOf(bus, ModuleId.AiIntegration)).toEqual([])
  })

  it('refuses a request type this endpoint may not subscribe to, and another module', async () => {
    const { bus, hub } = await startHub()
    const client = await aiIntegration(hub, { publish: ['InterventionResponse'], subscribe: [] })
    const answer = () => validData.InterventionResponse()
    await expect(
      client.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, answer),
    ).rejects.toMatchObject({ kind: 'Unauthorized', action: 'subscribe', type: 'InterventionRequest' })
    await expect(
      client.respond(ModuleId.Storage, 'InterventionRequest', REPLY, answer),
    ).rejects.toMatchObject({
      kind: 'Unauthorized',
      action: 'subscribe',
    })
    expect(await subscriptionsOf(bus, ModuleId.AiIntegration)).toEqual([])
  })

  it('fails the delivery when the hub refuses the reply: retried, then dead-lettered with the refusal', async () => {
    const { bus, hub } = await startHub({
      maxRetryAttempts: 1,
      retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
    })
    const client = await aiIntegration(hub)
    let answered = 0
    await client.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, () => {
      answered += 1
      return { ...validData.InterventionResponse(), animationCues: 'wave' as unknown as string[] }
    })
    const request = tip()
    await bus.publish(request)
    await vi.waitFor(async () => expect(await bus.deadLetters.list()).toHaveLength(1))
    const [entry] = await bus.deadLetters.list()
    expect(entry).toMatchObject({
      message: { id: request.id },
      module: ModuleId.AiIntegration,
      reason: 'MaxRetriesExceeded',
      attempts: 2,
    })
    expect(entry?.lastError).toMatch(/MessageRejected.*animationCues/)
    expect(answered).toBe(2)
    expect((await bus.metrics()).types.InterventionResponse?.published ?? 0).toBe(0)
  })

  it('answers the next request while a reply is on its way to the hub, one worker or not', async () => {
    const { bus, hub } = await startHub({ workers: 1 })
    const client = await aiIntegration(hub)
    const order: string[] = []
    await client.respond(ModuleId.AiIntegration, 'InterventionRequest', REPLY, (request) => {
      order.push('answer')
      return { ...validData.InterventionResponse(), requestId: request.payload.data.requestId }
    })
    await bus.subscribe(
      ModuleId.CuteFigurine,
      MessageFilter.types(['InterventionResponse']),
      DeliveryMode.BestEffort,
      () => {
        order.push('reply')
      },
    )
    await Promise.all(Array.from({ length: 8 }, () => bus.publish(tip())))
    await vi.waitFor(() => expect(order.filter((event) => event === 'reply')).toHaveLength(8))
    // Holding its one slot until the hub took each reply, it would answer, reply, answer, reply….
    expect(order.slice(0, 8)).toEqual(Array(8).fill('answer'))
  })
})
