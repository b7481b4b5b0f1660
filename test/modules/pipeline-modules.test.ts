/**
 * The demo pipeline's modules, each run as a host runs it (over a port to a hub, its lifecycle
 * included) and fed by the test: DataCapture's activity phases, AnalysisEngine's rule and what it
 * publishes, Gamification's rewards, streaks and cooldown, AiIntegration's answers.
 */
import { tmpdir } from 'node:os'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import {
  BusMessage,
  type EventBus,
  EventBusError,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import aiIntegration from '../../src/modules/ai-integration.js'
import analysisEngine, { classify } from '../../src/modules/analysis-engine.js'
import dataCapture from '../../src/modules/data-capture.js'
import type { ModuleDefinition } from '../../src/modules/define.js'
import gamification from '../../src/modules/gamification.js'
import type { DataOf, MessageType } from '../../src/shared/catalog.js'
import type { BusClient } from '../../src/shared/index.js'
import { rawEvent, waitFor } from '../helpers.js'
import { afterThisTest, startHub } from '../hub/fixture.js'
import { attachedModule, collected } from './attached-module.js'

/**
 * `definition` attached to a fresh hub and running, with `options`; `ofType(type)` lists what was
 * published of `type` (of `published`), in order. Shut down as the host does after the test.
 */
async function running(
  definition: ModuleDefinition,
  published: MessageType[],
  options: Record<string, unknown> = {},
) {
  const { bus, hub }: { bus: EventBus; hub: Hub } = await startHub()
  const seen = await collected(bus, published)
  const { running, orchestrator } = await attachedModule(bus, hub, definition, { dataDir: tmpdir(), options })
  afterThisTest(async () => {
    await orchestrator.requestShutdown(definition.id, 1_000)
    await running
  })
  const ofType = <T extends MessageType>(type: T) =>
    seen.filter((message): message is BusMessage<T> => message.payload.type === type)
  return { bus, orchestrator, seen, ofType }
}

/** A batch of `seconds` with `counts` events of each type. */
function batch(seconds: number, counts: Partial<Record<string, number>>): DataOf<'EventBatch'> {
  const windowStart = new Date('2026-12-06T10:00:00Z')
  return {
    windowStart,
    windowEnd: new Date(windowStart.getTime() + seconds * 1000),
    events: Object.entries(counts).flatMap(([eventType, count]) =>
      Array.from({ length: count ?? 0 }, () => rawEvent({ eventType })),
    ),
    sessionId: crypto.randomUUID(),
  }
}

describe('DataCapture', () => {
  it('types in the editor while focused, and switches between windows once its phases move on', async () => {
    const { orchestrator, ofType } = await running(dataCapture, ['RawEvent'], { rate: 200, phaseMs: 60_000 })
    await waitFor(() => ofType('RawEvent').length >= 20)
    const titles = () => new Set(ofType('RawEvent').map(({ payload: { data } }) => data.windowTitle))
    expect(titles()).toEqual(new Set(['main.ts — Editor']))
    // A phase a millisecond long: the next ticks fall in the distracted phase too.
    await orchestrator.configure('phaseMs', 1, ModuleId.DataCapture)
    await waitFor(() => titles().size > 1)
    expect(ofType('RawEvent').every(({ source }) => source === ModuleId.DataCapture)).toBe(true)
  })
})

describe("AnalysisEngine's rule", () => {
  it('calls fewer than one event every two seconds idle, more sure the fewer', () => {
    expect(classify(batch(10, {}))).toEqual({ state: 'idle', confidence: 1 })
    expect(classify(batch(10, { keystroke: 4 }))).toEqual({ state: 'idle', confidence: 0.6 })
    expect(classify(batch(10, { keystroke: 5 })).state).toBe('focused')
  })

  it('calls over 15 % window switches or over 45 % mouse moves distracted', () => {
    expect(classify(batch(1, { keystroke: 84, window_focus: 16 }))).toMatchObject({ state: 'distracted' })
    expect(classify(batch(1, { keystroke: 85, window_focus: 15 })).state).toBe('focused')
    expect(classify(batch(1, { keystroke: 54, mouse_move: 46 }))).toMatchObject({ state: 'distracted' })
    expect(classify(batch(1, { keystroke: 55, mouse_move: 45 })).state).toBe('focused')
    // Sure in proportion to the stronger sign: 30 % switches or 60 % mouse is certain.
    expect(classify(batch(1, { keystroke: 80, window_focus: 20 })).confidence).toBeCloseTo(2 / 3)
    expect(classify(batch(1, { keystroke: 40, mouse_move: 60 })).confidence).toBe(1)
    // Never past certain, which StateChange's schema would refuse: every event a window switch.
    expect(classify(batch(1, { window_focus: 100 }))).toEqual({ state: 'distracted', confidence: 1 })
  })

  it('calls the rest focused, sure in proportion to its keystrokes (80 % is certain)', () => {
    expect(classify(batch(1, { keystroke: 40, mouse_move: 40, scroll: 20 }))).toEqual({
      state: 'focused',
      confidence: 0.5,
    })
    expect(classify(batch(1, { keystroke: 100 })).confidence).toBe(1)
  })

  it('takes a batch of no length as a very short one, not a division by zero', () => {
    expect(classify(batch(0, { keystroke: 1 })).state).toBe('focused')
    expect(classify(batch(0, {}))).toEqual({ state: 'idle', confidence: 1 })
  })
})

describe('AnalysisEngine', () => {
  it('publishes each batch’s verdict and its state, at High priority and with the state before when it changed', async () => {
    const { bus, ofType } = await running(analysisEngine, ['AnalysisComplete', 'StateChange'])
    const send = (data: DataOf<'EventBatch'>) =>
      bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.EventBatch(data)))
    const focused = batch(1, { keystroke: 10 })
    await send(focused)
    await send(batch(1, { keystroke: 10 }))
    await send(batch(10, {}))
    await send(batch(1, { keystroke: 80, window_focus: 20 }))
    await waitFor(() => ofType('StateChange').length === 4)
    expect(ofType('AnalysisComplete')[0]?.payload.data).toMatchObject({
      state: 'focused',
      confidence: 1,
      startTime: focused.windowStart,
      endTime: focused.windowEnd,
    })
    expect(
      ofType('StateChange').map(({ priority, payload: { data } }) => [
        data.state,
        data.transitionFrom,
        priority,
      ]),
    ).toEqual([
      ['focused', undefined, MessagePriority.Normal],
      ['focused', undefined, MessagePriority.Normal],
      ['idle', 'focused', MessagePriority.High],
      ['distracted', 'idle', MessagePriority.High],
    ])
    // Confidence to two decimals, in both messages.
    expect(ofType('AnalysisComplete')[3]?.payload.data.confidence).toBe(0.67)
    expect(ofType('StateChange')[3]?.payload.data.confidence).toBe(0.67)
  })
})

describe('Gamification', () => {
  const stateChange = (state: string, confidence = 0.9) =>
    BusMessage.create(
      ModuleId.AnalysisEngine,
      MessagePayload.StateChange({ state, confidence, timestamp: new Date() }),
    )

  it('rewards each focused stretch, every fifth as a streak worth three times as much', async () => {
    const { bus, ofType } = await running(gamification, ['RewardEvent'])
    for (let n = 0; n < 6; n++) await bus.publish(stateChange('focused', 0.5))
    await bus.publish(stateChange('focused', 0.05))
    await waitFor(() => ofType('RewardEvent').length === 7)
    expect(ofType('RewardEvent').map(({ payload: { data } }) => [data.rewardType, data.points])).toEqual([
      ['focus', 3],
      ['focus', 3],
      ['focus', 3],
      ['focus', 3],
      ['streak', 9],
      ['focus', 3],
      ['focus', 1], // never nothing, however unsure
    ])
    expect(
      ofType('RewardEvent')
        .map(({ payload: { data } }) => data.description)
        .slice(3, 6),
    ).toEqual(['Nice focus', '5 focused stretches in a row!', 'Nice focus'])
  })

  it('asks for an intervention on drifting, then not again within its cooldown; a stretch lost starts the streak over', async () => {
    const { bus, ofType } = await running(gamification, ['RewardEvent', 'InterventionRequest'], {
      cooldownMs: 60_000,
    })
    for (let n = 0; n < 4; n++) await bus.publish(stateChange('focused'))
    await bus.publish(stateChange('distracted', 0.9))
    await bus.publish(stateChange('idle', 0.5))
    await bus.publish(stateChange('focused'))
    await waitFor(() => ofType('RewardEvent').length === 5)
    expect(ofType('InterventionRequest').map(({ payload: { data } }) => data)).toEqual([
      {
        requestId: expect.any(String),
        interventionType: 'refocus',
        urgency: 'high',
        context: { state: 'distracted', confidence: 0.9 },
      },
    ])
    expect(ofType('RewardEvent').at(-1)?.payload.data.rewardType).toBe('focus')
  })

  it('asks each time with no cooldown: idle for a wake-up, low urgency when unsure (0.7 or less)', async () => {
    const { bus, ofType } = await running(gamification, ['InterventionRequest'], { cooldownMs: 0 })
    await bus.publish(stateChange('idle', 0.7))
    await bus.publish(stateChange('distracted', 0.71))
    await waitFor(() => ofType('InterventionRequest').length === 2)
    expect(
      ofType('InterventionRequest').map(({ payload: { data } }) => [data.interventionType, data.urgency]),
    ).toEqual([
      ['wake-up', 'low'],
      ['refocus', 'high'],
    ])
  })
  it('asks again once its cooldown has passed, to the millisecond', async () => {
    const { bus, ofType } = await running(gamification, ['InterventionRequest'], { cooldownMs: 1_000 })
    // A whole number, so that 999 + 1 added to it make exactly 1,000 (a fraction would not).
    let now = Math.ceil(performance.now())
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now)
    onTestFinished(() => clock.mockRestore())
    const handled = async (count: number) =>
      waitFor(async () => (await bus.metrics()).types.StateChange?.delivered === count)
    await bus.publish(stateChange('distracted', 0.8))
    await handled(1)
    now += 999
    await bus.publish(stateChange('distracted', 0.81)) // within the cooldown: not asked
    await handled(2)
    now += 1
    await bus.publish(stateChange('distracted', 0.82))
    await handled(3)
    // Handling a StateChange publishes the request: wait for it to reach the observer too.
    await waitFor(() => ofType('InterventionRequest').length >= 2)
    expect(ofType('InterventionRequest').map(({ payload: { data } }) => data.context)).toEqual([
      { state: 'distracted', confidence: 0.8 },
      { state: 'distracted', confidence: 0.82 },
    ])
  })
})

describe('AiIntegration', () => {
  it('fails a request whose animation was refused, so that it is retried rather than answered without one', async () => {
    let answer: ((request: BusMessage<'InterventionRequest'>) => Promise<unknown>) | undefined
    const refused = EventBusError.of('QueueFull', { currentSize: 10, maxSize: 10 })
    const bus = {
      respond: async (_module: string, _type: string, _options: unknown, handler: typeof answer) => {
        answer = handler
        return 'responder'
      },
      publish: () => Promise.reject(refused),
    } as unknown as BusClient
    await aiIntegration.start(bus, { dataDir: '.', options: {}, log: () => {} })
    const request = BusMessage.create(
      ModuleId.Gamification,
      MessagePayload.InterventionRequest({
        requestId: crypto.randomUUID(),
        interventionType: 'tip',
        urgency: 'low',
        context: {},
      }),
    )
    await expect(answer?.(request)).rejects.toBe(refused)
  })

  it('answers a request with its reply and, before it, an animation for the figurine, both correlated', async () => {
    const { bus, ofType } = await running(aiIntegration, ['AnimationCommand', 'InterventionResponse'])
    /** The request's message id (what answers correlate to) and its own `requestId`. */
    const ask = async (interventionType: string, urgency: string) => {
      const requestId = crypto.randomUUID()
      const id = await bus.publish(
        BusMessage.create(
          ModuleId.Gamification,
          MessagePayload.InterventionRequest({ requestId, interventionType, urgency, context: {} }),
        ),
      )
      return { id, requestId }
    }
    const wakeUp = await ask('wake-up', 'high')
    const unknownKind = await ask('no-such-kind', 'low')
    await waitFor(() => ofType('InterventionResponse').length === 2)
    expect(
      ofType('AnimationCommand').map(({ correlationId, payload: { data } }) => [
        correlationId,
        data.animationType,
        data.parameters,
        data.durationMs,
      ]),
    ).toEqual([
      [wakeUp.id, 'bounce', { intensity: 2 }, 1500],
      [unknownKind.id, 'spin', { intensity: 1 }, 1500], // an unknown kind gets a tip
    ])
    expect(
      ofType('InterventionResponse').map(({ correlationId, payload: { data } }) => [
        correlationId,
        data.requestId,
        data.animationCues,
      ]),
    ).toEqual([
      [wakeUp.id, wakeUp.requestId, ['bounce', 'yawn']],
      [unknownKind.id, unknownKind.requestId, ['spin', 'sparkle']],
    ])
    await ask('refocus', 'low')
    await ask('refocus', 'low')
    await waitFor(() => ofType('InterventionResponse').length === 4)
    const refocusLines = ofType('InterventionResponse')
      .slice(2)
      .map(({ payload: { data } }) => data.responseText)
    expect(new Set(refocusLines).size).toBe(2) // not the same line twice in a row
  })
})
