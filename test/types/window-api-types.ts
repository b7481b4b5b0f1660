/**
 * What a window's code may write to `window.skellyBus`, checked by the compiler alone (`npm run
 * typecheck`; typed-api.test.ts says how): the object exists only in a page, where e2e/ and
 * examples/ run it. Nothing calls this function.
 */
import { expectTypeOf } from 'vitest'
import { z } from 'zod'
import { type BuiltinCatalog, DeliveryMode } from '../../src/main/bus/index.js'
import type { SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { skellyBusWith } from '../../src/renderer/skelly-bus.js'

export function windowApiTypes(skellyBus: SkellyBusApi): void {
  const mode = DeliveryMode.BestEffort
  // @ts-expect-error 'RawEvnt' is not in the catalog
  void skellyBus.publish('RawEvnt', {})
  // @ts-expect-error a RawEvent needs data and a timestamp
  void skellyBus.publish('RawEvent', { eventType: 'keystroke' })
  void skellyBus.publish('RewardEvent', {
    rewardId: crypto.randomUUID(),
    rewardType: 'streak',
    points: 3,
    description: 'three in a row',
  })
  // @ts-expect-error 'RawEvnt' is not in the catalog
  void skellyBus.subscribe({ types: ['RawEvnt'] }, mode, () => {})
  void skellyBus.subscribe({ types: ['AnimationCommand'] }, mode, (m) => {
    expectTypeOf(m.payload.data.durationMs).toBeNumber()
  })
  void skellyBus.subscribe({ types: ['RawEvent'] }, mode, () => {}, { label: 'counts keystrokes' })
  // @ts-expect-error subscribe's options take a label, not a lable
  void skellyBus.subscribe({ types: ['RawEvent'] }, mode, () => {}, { lable: 'counts keystrokes' })
  const tip = {
    requestId: crypto.randomUUID(),
    interventionType: 'tip',
    urgency: 'low',
    context: null,
  }
  // @ts-expect-error 'InterventionRespons' is not in the catalog
  void skellyBus.request('InterventionRequest', tip, { replyType: 'InterventionRespons' })
  const noUrgency = { ...tip, urgency: undefined }
  // @ts-expect-error an InterventionRequest needs its urgency
  void skellyBus.request('InterventionRequest', noUrgency, { replyType: 'InterventionResponse' })
  void skellyBus
    .request('InterventionRequest', tip, { replyType: 'InterventionResponse', priority: 2, timeoutMs: 1000 })
    .then((reply) => expectTypeOf(reply.payload.data.responseText).toBeString())
  // The answer gets the request, typed by its type, and returns the reply's data, typed by replyType.
  void skellyBus.respond('InterventionRequest', { replyType: 'InterventionResponse' }, (request) => ({
    requestId: request.payload.data.requestId,
    responseText: 'Take a breath.',
    animationCues: [],
  }))
  void skellyBus.respond('StateChange', { replyType: 'AnimationCommand', mode }, async (request) => {
    expectTypeOf(request.payload.data.confidence).toBeNumber()
    return { commandId: crypto.randomUUID(), animationType: 'nod', parameters: null, durationMs: 300 }
  })
  // @ts-expect-error the answer returns a StorageStatus's data, not an InterventionResponse's
  void skellyBus.respond('InterventionRequest', { replyType: 'InterventionResponse' }, () => ({
    totalEvents: 1,
    storageSizeBytes: 0,
    lastBatchTime: new Date(),
  }))
  // @ts-expect-error 'InterventionRespons' is not in the catalog
  void skellyBus.respond('InterventionRequest', { replyType: 'InterventionRespons' }, () => ({}))
}

const appCatalog = {
  'app.Ping': z.object({ sequence: z.number().int() }),
  'app.Pong': z.object({ echoed: z.number().int() }),
}

/** A window of an application with types of its own reads the bus by its catalog. */
export function appWindowApiTypes(skellyBus: SkellyBusApi): void {
  const mode = DeliveryMode.BestEffort
  // @ts-expect-error the built-in catalog has no 'app.Ping'
  void skellyBus.publish('app.Ping', { sequence: 1 })
  const appBus = skellyBusWith(appCatalog)
  expectTypeOf(appBus).toEqualTypeOf<SkellyBusApi<BuiltinCatalog & typeof appCatalog>>()
  expectTypeOf(skellyBusWith<typeof appCatalog>()).toEqualTypeOf(appBus)
  void appBus.publish('app.Ping', { sequence: 1 })
  // @ts-expect-error sequence is a number
  void appBus.publish('app.Ping', { sequence: 'one' })
  // @ts-expect-error 'app.Pnig' is in neither catalog
  void appBus.subscribe({ types: ['app.Pnig'] }, mode, () => {})
  void appBus.subscribe({ types: ['app.Ping', 'RawEvent'] }, mode, (m) => {
    if (m.payload.type === 'app.Ping') expectTypeOf(m.payload.data.sequence).toBeNumber()
    else expectTypeOf(m.payload.data.eventType).toBeString()
  })
  void appBus
    .request('app.Ping', { sequence: 2 }, { replyType: 'app.Pong' })
    .then((reply) => expectTypeOf(reply.payload.data.echoed).toBeNumber())
}
