/**
 * `client.respond` across a port: the grants are checked before anything is subscribed (the reply
 * type must be granted to publish, the request type to subscribe), and a reply the hub refuses
 * fails the request's delivery there, so the hub retries it and dead-letters it with the reason.
 * Answers through the hub and over direct routes are in endpoint-requests.test.ts, whose
 * AiIntegration answers with `respond`. A responder in a worker killed mid-stream loses no Reliable
 * request: its identity back, it answers what it had not.
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
import type { AgentRequest, Behaviour } from '../fixtures/endpoint-agent.js'
import { expectAccounted, rawEvent, validData, waitFor } from '../helpers.js'
import { afterThisTest, startHub } from './fixture.js'
import { startWorkerEndpoint } from './worker-endpoint.js'

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
      message:
        "Unauthorized: module 'ai-integration' may subscribe only as itself, not as another module nor on a channel it is not that end of",
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

describe('a responder in a worker killed mid-stream', () => {
  it('answers every Reliable request once its identity is back: none lost, each resolved with its own reply', async () => {
    const { bus, hub } = await startHub({}, { reconnectGraceMs: 30_000 })
    const total = 300
    // Receipts in shared memory: a killed worker's receipts survive it, unlike its last messages.
    const receipts = new Int32Array(new SharedArrayBuffer(total * 4))
    const storage = {
      module: ModuleId.Storage,
      permissions: { publish: ['StorageStatus'], subscribe: ['RawEvent'] },
    }
    const answering = (behaviour: Behaviour): AgentRequest => ({
      op: 'respond',
      mode: DeliveryMode.Reliable({ timeoutMs: 2000 }),
      behaviour,
    })
    const first = await startWorkerEndpoint(hub, storage, { receipts })
    afterThisTest(() => first.terminate())
    await first.call(answering({ kind: 'delay', ms: 5 }))
    const requests = Array.from({ length: total }, (_, seq) =>
      BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent({ data: { seq } }))),
    )
    let answered = 0
    const replies = requests.map((request) =>
      // A lost request rejects with DeliveryTimeout naming it, within the test's time.
      bus.request(request, { replyType: 'StorageStatus', timeoutMs: 15_000 }).then((reply) => {
        answered++
        return reply
      }),
    )
    await waitFor(() => answered > 50)
    await first.terminate() // killed mid-stream: the deliveries it was answering are never acknowledged
    const responder = async () => (await subscriptionsOf(bus, ModuleId.Storage))[0]
    await waitFor(async () => (await responder())?.parked === true)
    expect(answered).toBeLessThan(total)
    const second = await startWorkerEndpoint(hub, storage, { receipts })
    afterThisTest(() => second.terminate())
    const resumed = await second.call<string>(answering({ kind: 'ok' }))
    expect(resumed).toBe((await responder())?.id) // the same subscription, resumed
    const settled = await Promise.all(replies)
    settled.forEach((reply, seq) => {
      expect(reply.correlationId).toBe(requests[seq]?.id)
      expect(reply.payload.data.totalEvents).toBe(seq)
    })
    // Every request reached an answer (some possibly twice, a reply then ignored: at least once).
    expect(receipts.indexOf(0)).toBe(-1)
    expect(await bus.deadLetters.list()).toEqual([])
    await waitFor(async () => (await bus.metrics()).inFlight === 0)
    await expectAccounted(bus)
  })
})
