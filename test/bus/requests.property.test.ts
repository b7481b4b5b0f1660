/**
 * `bus.request` under random mixes of requests in flight at once: each settles once, with the
 * first reply that names it and has its type if that comes before its timeout, and with
 * `DeliveryTimeout` otherwise, whatever else of the reply type goes by meanwhile (late replies,
 * second replies, replies of another type, other requests' replies).
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type Envelope,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { advance, useFakeClock, validData } from '../helpers.js'

/** What the responder does with one request: reply once or twice, with another type, or not at all. */
const answer = fc.constantFrom('reply', 'twice', 'wrongType', 'none')

const requestSpec = fc.record({
  answer,
  timeoutMs: fc.integer({ min: 20, max: 200 }),
  // How long the responder takes, as a share of the request's timeout: before it, or after it.
  inTime: fc.boolean(),
  share: fc.double({ min: 0, max: 0.8, noNaN: true }),
})

describe('bus.request, many at once', () => {
  beforeEach(() => {
    useFakeClock()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('settles each with its own first reply in time, or DeliveryTimeout', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestSpec, { minLength: 1, maxLength: 12 }), async (specs) => {
        const bus = createEventBus()
        await bus.start()
        const plans = new Map<string, (typeof specs)[number]>()
        const reply = (request: Envelope, text: string) =>
          bus.publish(
            BusMessage.replyTo(
              request,
              ModuleId.AiIntegration,
              MessagePayload.InterventionResponse({
                ...validData.InterventionResponse(),
                responseText: text,
              }),
            ),
          )
        await bus.subscribe(
          ModuleId.AiIntegration,
          MessageFilter.types(['InterventionRequest']),
          DeliveryMode.BestEffort,
          (request) => {
            const plan = plans.get(request.id)
            if (plan === undefined || plan.answer === 'none') return
            // Away from the timeout by 5 ms at least, either side, so that which comes first is certain.
            const delay = plan.inTime
              ? Math.max(0, Math.floor(plan.timeoutMs * plan.share) - 5)
              : plan.timeoutMs + 5 + Math.floor(plan.timeoutMs * plan.share)
            setTimeout(() => {
              // Another request's reply first, to be ignored by this one.
              void reply(
                BusMessage.create(ModuleId.CuteFigurine, { type: 'InterventionRequest', data: {} }),
                'stray',
              )
              if (plan.answer === 'wrongType') {
                void bus.publish(
                  BusMessage.replyTo(
                    request,
                    ModuleId.AiIntegration,
                    MessagePayload.AnimationCommand(validData.AnimationCommand()),
                  ),
                )
                return
              }
              void reply(request, `first for ${request.id}`)
              if (plan.answer === 'twice') void reply(request, `second for ${request.id}`)
            }, delay)
          },
        )
        // The requester listens to AnimationCommands too (a request that waited for one), so a
        // wrong-typed reply naming a request reaches it, and must not answer that request.
        const cue = BusMessage.create(
          ModuleId.CuteFigurine,
          MessagePayload.InterventionRequest(validData.InterventionRequest()),
        )
        const waitedForCue = bus.request(cue, { replyType: 'AnimationCommand', timeoutMs: 1 }).catch((e) => e)
        await advance(10)
        expect(await waitedForCue).toMatchObject({ kind: 'DeliveryTimeout' })
        const outcomes = specs.map((spec) => {
          const request = BusMessage.create(
            ModuleId.CuteFigurine,
            MessagePayload.InterventionRequest(validData.InterventionRequest()),
          )
          plans.set(request.id, spec)
          return bus.request(request, { replyType: 'InterventionResponse', timeoutMs: spec.timeoutMs }).then(
            (r) => ({ id: request.id, text: r.payload.data.responseText, correlationId: r.correlationId }),
            (error: { kind: string }) => ({ id: request.id, kind: error.kind }),
          )
        })
        await advance(1_000)
        const settled = await Promise.all(outcomes)
        settled.forEach((outcome, index) => {
          const spec = specs[index]
          const answered =
            spec !== undefined && spec.inTime && (spec.answer === 'reply' || spec.answer === 'twice')
          if (answered)
            expect(outcome).toEqual({
              id: outcome.id,
              text: `first for ${outcome.id}`,
              correlationId: outcome.id,
            })
          else expect(outcome).toEqual({ id: outcome.id, kind: 'DeliveryTimeout' })
        })
        await bus.shutdown({ drainTimeoutMs: 0 })
      }),
      { numRuns: 50 },
    )
  })
})
