/**
 * A subscription's label (`subscribe`'s `options.label`) says what it is for: it reaches the
 * metrics (and so the inspector) as given, in process and across a port; `request` and `respond`
 * label the subscriptions they make; a subscription without one has none.
 */
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  ModuleId,
  type SubscriptionMetrics,
} from '../../src/main/bus/index.js'
import type { BusClient } from '../../src/shared/index.js'
import { rawEvent } from '../helpers.js'
import { connectClient, startHub } from './fixture.js'

type Subscriber = Pick<EventBus, 'subscribe' | 'request' | 'respond'> | BusClient

/** Subscribes `module` through `api` as a module would: one subscription labelled, one not, one answering. */
async function subscribeEveryWay(api: Subscriber, module: string): Promise<void> {
  await api.subscribe(module, MessageFilter.types(['RawEvent']), DeliveryMode.Reliable(), async () => {}, {
    label: 'writes RawEvents to the event log',
  })
  await api.subscribe(module, { types: ['StateChange'] }, DeliveryMode.BestEffort, () => {})
  await api.respond(module, 'InterventionRequest', { replyType: 'InterventionResponse' }, (request) => ({
    requestId: request.payload.data.requestId,
    responseText: 'Stretch!',
    animationCues: [],
  }))
}

/** A request of the figurine's that nothing answers (it times out at once): its reply subscription stays. */
async function askUnanswered(api: Subscriber): Promise<void> {
  const request = BusMessage.create(ModuleId.CuteFigurine, MessagePayload.RawEvent(rawEvent()))
  await expect(api.request(request, { replyType: 'RewardEvent', timeoutMs: 1 })).rejects.toThrow(
    /^DeliveryTimeout/,
  )
}

/** Each subscription of `module` as its type, with its label (null when it has none). */
function labelsOf(subscriptions: SubscriptionMetrics[], module: string): Record<string, string | null> {
  return Object.fromEntries(
    subscriptions
      .filter((subscription) => subscription.module === module)
      .map((subscription) => [subscription.filter.split(' ')[0], subscription.label ?? null]),
  )
}

const EXPECTED = {
  'types=[RawEvent]': 'writes RawEvents to the event log',
  'types=[StateChange]': null,
  'types=[InterventionRequest]': 'answers with InterventionResponse',
}

describe('subscription labels', () => {
  const setUps: [string, () => Promise<{ bus: EventBus; storage: Subscriber; figurine: Subscriber }>][] = [
    [
      'in process',
      async () => {
        const bus = createEventBus()
        await bus.start()
        return { bus, storage: bus, figurine: bus }
      },
    ],
    [
      'from endpoints to the hub’s bus',
      async () => {
        const { bus, hub } = await startHub()
        const storage = await connectClient(hub, ModuleId.Storage)
        return { bus, storage, figurine: await connectClient(hub, ModuleId.CuteFigurine) }
      },
    ],
  ]

  it.each(setUps)('reach the metrics as given, %s; respond and request label theirs', async (_, setUp) => {
    const { bus, storage, figurine } = await setUp()
    const labels = async (module: string) => labelsOf((await bus.metrics()).subscriptions, module)
    await subscribeEveryWay(storage, ModuleId.Storage)
    expect(await labels(ModuleId.Storage)).toEqual(EXPECTED)
    await askUnanswered(figurine)
    expect(await labels(ModuleId.CuteFigurine)).toEqual({ 'types=[RewardEvent]': 'replies to its requests' })
  })

  it('are refused before anything is subscribed when they do not fit, saying what they take', async () => {
    const { bus, hub } = await startHub()
    const storage = await connectClient(hub, ModuleId.Storage)
    for (const api of [bus, storage] as Subscriber[]) {
      await expect(
        api.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {}, { label: 'x'.repeat(81) }),
      ).rejects.toThrow(
        /^Configuration: subscribe options are \{ label\?: 1 to 80 characters \}; label: Too big: .*<=80 characters$/,
      )
      // An empty label says nothing, and a misspelt key would otherwise be dropped without a word.
      await expect(
        api.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {}, { label: '' }),
      ).rejects.toThrow(/^Configuration: subscribe options are .*; label: Too small: .*>=1 characters$/)
      await expect(
        api.subscribe(ModuleId.Storage, {}, DeliveryMode.BestEffort, () => {}, { lable: 'x' } as never),
      ).rejects.toThrow(/^Configuration: subscribe options are .*; options: Unrecognized key: "lable"$/)
    }
    expect((await bus.metrics()).subscriptions).toEqual([])
  })
})
