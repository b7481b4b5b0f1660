/**
 * `client.respond` across a port under random mixes of answers, at once, with one to three
 * workers and zero to two retries: each request is either answered exactly once (its reply names
 * it, and nothing is dead-lettered for it) or, when every attempt's answer failed (a throw, a
 * rejection, nothing returned, data its type refuses), dead-lettered once with that failure and
 * never answered. Its answer runs once per attempt, and the subscription accounts for every copy.
 */
import { MessageChannel } from 'node:worker_threads'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type Envelope,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createHub } from '../../src/main/hub/index.js'
import { connectBus, type InterventionResponse } from '../../src/shared/index.js'
import { validData } from '../helpers.js'

/** What the answer does with a request, at every attempt. */
const behaviour = fc.constantFrom('data', 'later', 'throws', 'rejects', 'nothing', 'wrong data')
type Behaviour = typeof behaviour extends fc.Arbitrary<infer B> ? B : never

/** What each failing behaviour leaves in the dead letter's `lastError`. */
const FAILURE: Partial<Record<Behaviour, RegExp>> = {
  throws: /thrown by the answer/,
  rejects: /rejected by the answer/,
  nothing: /returned nothing/,
  'wrong data': /MessageRejected: InterventionResponse does not match its schema/,
}

function answerAs(
  behaviour: Behaviour,
  request: Envelope,
): InterventionResponse | Promise<InterventionResponse> {
  const data = { ...validData.InterventionResponse(), responseText: `for ${request.id}` }
  switch (behaviour) {
    case 'data':
      return data
    case 'later':
      return new Promise((resolve) => setTimeout(() => resolve(data), 1))
    case 'throws':
      throw new Error('thrown by the answer')
    case 'rejects':
      return Promise.reject(new Error('rejected by the answer'))
    case 'nothing':
      return undefined as unknown as InterventionResponse
    case 'wrong data':
      return { ...data, animationCues: 'wave' as unknown as string[] }
  }
}

describe('client.respond, many requests at once', () => {
  it('answers each exactly once, or dead-letters it once with the failure, and accounts for every copy', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(behaviour, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        async (behaviours, workers, maxRetryAttempts) => {
          const bus = createEventBus({
            workers,
            maxRetryAttempts,
            retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
          })
          await bus.start()
          const hub = createHub(bus, { heartbeatMs: 0 })
          const { port1, port2 } = new MessageChannel()
          hub.attach(port1, {
            module: ModuleId.AiIntegration,
            permissions: { publish: ['InterventionResponse'], subscribe: ['InterventionRequest'] },
          })
          const client = await connectBus(port2)
          try {
            const plans = new Map<string, Behaviour>()
            const attempts = new Map<string, number>()
            const sid = await client.respond(
              ModuleId.AiIntegration,
              'InterventionRequest',
              { replyType: 'InterventionResponse' },
              (request) => {
                attempts.set(request.id, (attempts.get(request.id) ?? 0) + 1)
                return answerAs(plans.get(request.id) ?? 'data', request)
              },
            )
            const replies: Envelope[] = []
            await bus.subscribe(
              ModuleId.CuteFigurine,
              MessageFilter.types(['InterventionResponse']),
              DeliveryMode.BestEffort,
              (reply) => {
                replies.push(reply)
              },
            )
            const requests = behaviours.map((b) => {
              const request = BusMessage.create(
                ModuleId.CuteFigurine,
                MessagePayload.InterventionRequest(validData.InterventionRequest()),
              )
              plans.set(request.id, b)
              return request
            })
            await Promise.all(requests.map((request) => bus.publish(request)))
            const failing = behaviours.filter((b) => FAILURE[b] !== undefined).length
            await vi.waitFor(
              async () => {
                expect(replies).toHaveLength(behaviours.length - failing)
                expect(await bus.deadLetters.list()).toHaveLength(failing)
                const [subscription] = (await bus.metrics()).subscriptions.filter((s) => s.id === sid)
                expect(subscription).toMatchObject({
                  routed: behaviours.length,
                  delivered: behaviours.length - failing,
                  deadLettered: failing,
                  inFlight: 0,
                })
              },
              { timeout: 5_000, interval: 5 },
            )
            const deadLetters = await bus.deadLetters.list()
            requests.forEach((request, index) => {
              const failure = FAILURE[behaviours[index] as Behaviour]
              const answered = replies.filter((reply) => reply.correlationId === request.id)
              const dead = deadLetters.filter((entry) => entry.message.id === request.id)
              if (failure === undefined) {
                expect(answered.map((reply) => reply.payload.data)).toEqual([
                  expect.objectContaining({ responseText: `for ${request.id}` }),
                ])
                expect(dead).toEqual([])
                expect(attempts.get(request.id)).toBe(1)
              } else {
                expect(answered).toEqual([])
                expect(dead).toEqual([
                  expect.objectContaining({ reason: 'MaxRetriesExceeded', attempts: maxRetryAttempts + 1 }),
                ])
                expect(dead[0]?.lastError).toMatch(failure)
                expect(attempts.get(request.id)).toBe(maxRetryAttempts + 1)
              }
            })
          } finally {
            client.close()
            hub.close()
            await bus.shutdown({ drainTimeoutMs: 0 })
          }
        },
      ),
      { numRuns: 50 },
    )
  })
})
