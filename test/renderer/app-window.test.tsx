// @vitest-environment happy-dom
/**
 * The app window against a bus made to order: what each subscription shows, an animation's
 * length, and what the window says when a tip, a poke or a subscription fails, including for
 * failures Playwright's hub does not give on cue (a refused subscription, a connection dropped
 * while a tip waits).
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import type { ConnectionState, SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { App } from '../../src/renderer/app/App.js'
import { stream, windowRoot } from './view-stubs.js'

/** A handler as the window subscribes it: handed the whole message. */
type Handler = (message: BusMessage) => void

/** A bus that records what the window subscribes and lets the test deliver, connect and fail. */
function fakeBus() {
  const handlers = new Map<string, Handler>()
  const connection = stream<ConnectionState>()
  const unsubscribed: string[] = []
  const bus = {
    subscribe: vi.fn(
      async (filter: { types: string[] }, _mode: unknown, handler: Handler, _options?: unknown) => {
        const [type = ''] = filter.types
        handlers.set(type, handler)
        return `sub-${type}`
      },
    ),
    unsubscribe: vi.fn(async (id: string) => {
      unsubscribed.push(id)
    }),
    onConnection: connection.listen,
    request: vi.fn(),
    publish: vi.fn(async () => 'published-id'),
  }
  return {
    bus,
    unsubscribed,
    connection,
    /** Delivers `message` to the window's subscription of its type. */
    deliver: (message: BusMessage) => act(() => handlers.get(message.payload.type)?.(message)),
    connect: connection.send,
  }
}

const root = windowRoot()
beforeEach(() => sessionStorage.clear())
afterEach(() => {
  vi.useRealTimers()
})

const text = (testId: string) => root.querySelector(`[data-testid=${testId}]`)?.textContent
const button = (testId: string) => root.querySelector<HTMLButtonElement>(`[data-testid=${testId}]`)
const figurine = () => root.querySelector('svg.figurine')

async function openWindow(fake: ReturnType<typeof fakeBus>, connection: ConnectionState = 'open') {
  await act(() => render(<App bus={fake.bus as unknown as SkellyBusApi} />, root))
  await act(async () => {}) // the subscriptions answered
  await fake.connect(connection)
}

const reward = (points: number, description: string) =>
  BusMessage.create(
    ModuleId.Gamification,
    MessagePayload.RewardEvent({ rewardId: crypto.randomUUID(), rewardType: 'streak', points, description }),
  )
const animation = (animationType: string, durationMs: number) =>
  BusMessage.create(
    ModuleId.AiIntegration,
    MessagePayload.AnimationCommand({
      commandId: crypto.randomUUID(),
      animationType,
      parameters: {},
      durationMs,
    }),
  )

describe('the app window', () => {
  it('shows what each subscription delivers: activity, rewards once each, stored events, Skelly’s words', async () => {
    const fake = fakeBus()
    await openWindow(fake)
    expect(text('state')).toBe('…')
    expect(root.querySelector('.card.state .muted')?.textContent).toBe('waiting for the first analysis')
    await fake.deliver(
      BusMessage.create(
        ModuleId.AnalysisEngine,
        MessagePayload.StateChange({ state: 'focused', confidence: 0.876, timestamp: new Date() }),
      ),
    )
    expect(text('state')).toBe('focused')
    expect(root.querySelector('.card.state')?.className).toBe('card state state-focused')
    // The figurine wears the mood too (app.css colours its jelly by it).
    expect(figurine()?.classList.contains('mood-focused')).toBe(true)
    expect(root.querySelector('.card.state .muted')?.textContent).toBe('88 % sure')
    const first = reward(1200, 'deep focus')
    await fake.deliver(first)
    await fake.deliver(first) // a Reliable redelivery
    await fake.deliver(reward(34, 'steady typing'))
    expect(text('points')).toBe('1,234')
    expect(text('reward-count')).toBe('steady typing')
    expect(root.querySelector('[data-testid=reward-count]')?.getAttribute('data-count')).toBe('2')
    await fake.deliver(
      BusMessage.create(
        ModuleId.Storage,
        MessagePayload.StorageStatus({ totalEvents: 12_345, storageSizeBytes: 1, lastBatchTime: new Date() }),
      ),
    )
    expect(text('stored')).toBe('12,345')
    await fake.deliver(
      BusMessage.create(
        ModuleId.AiIntegration,
        MessagePayload.InterventionResponse({
          requestId: crypto.randomUUID(),
          responseText: 'Stretch!',
          animationCues: [],
        }),
      ),
    )
    expect(text('speech')).toBe('Stretch!')
  })

  it('plays an animation for its duration; a new one starts the clock again', async () => {
    vi.useFakeTimers({ now: 0 })
    const fake = fakeBus()
    await openWindow(fake)
    expect(figurine()?.getAttribute('data-animation')).toBe('rest')
    expect(figurine()?.getAttribute('aria-label')).toBe('Skelly the jelly skeleton, resting')
    await fake.deliver(animation('wave', 1000))
    expect(figurine()?.getAttribute('data-animation')).toBe('wave')
    // The class is what plays it: app.css animates `.figurine.anim-wave`.
    expect(figurine()?.classList.contains('anim-wave')).toBe(true)
    expect(figurine()?.getAttribute('aria-label')).toBe('Skelly the jelly skeleton, doing a wave')
    await act(() => {
      vi.advanceTimersByTime(600)
    })
    await fake.deliver(animation('bounce', 1500))
    await act(() => {
      vi.advanceTimersByTime(1499)
    })
    // Past the first's end: it no longer applies; the second's own length does.
    expect(figurine()?.getAttribute('data-animation')).toBe('bounce')
    expect(figurine()?.getAttribute('data-reactions')).toBe('2')
    await act(() => {
      vi.advanceTimersByTime(1)
    })
    expect(figurine()?.getAttribute('data-animation')).toBe('rest')
    expect([...(figurine()?.classList ?? [])].filter((name) => name.startsWith('anim-'))).toEqual([])
  })

  it.each([
    ['SubscriberUnavailable', 'open', 'Skelly’s AI module is not running — try again once it has started.'],
    [
      'DeliveryTimeout',
      'open',
      'No answer from Skelly in time — the AI module may be busy. Try again in a moment.',
    ],
    [
      'DeliveryTimeout',
      'reconnecting',
      'No answer from Skelly: the connection to the bus dropped. The window is reconnecting.',
    ],
    ['Unauthorized', 'open', 'Unauthorized: the message'],
  ] as const)(
    'says why a tip failed with %s, the connection %s by then, and offers the button again',
    async (kind, by, said) => {
      const fake = fakeBus()
      let fail: (error: unknown) => void = () => {}
      fake.bus.request.mockReturnValue(new Promise((_, reject) => (fail = reject)))
      await openWindow(fake)
      await act(() => button('ask')?.click())
      expect(button('ask')?.textContent).toBe('Skelly is thinking…')
      expect(button('ask')?.disabled).toBe(true)
      // The connection changes while the request waits; what is said is judged when it settles.
      await fake.connect(by)
      await act(async () => fail({ kind, message: `${kind}: the message` }))
      expect(text('error')).toBe(said)
      await fake.connect('open')
      expect(button('ask')?.textContent).toBe('Ask Skelly for a tip')
      expect(button('ask')?.disabled).toBe(false)
      // Asking again clears what the last one said.
      fake.bus.request.mockReturnValue(new Promise(() => {}))
      await act(() => button('ask')?.click())
      expect(text('error')).toBeUndefined()
    },
  )

  it('asks AiIntegration itself for a tip, with an answer timeout', async () => {
    const fake = fakeBus()
    fake.bus.request.mockResolvedValue(undefined)
    await openWindow(fake)
    await act(async () => button('ask')?.click())
    expect(fake.bus.request).toHaveBeenCalledWith(
      'InterventionRequest',
      expect.objectContaining({ interventionType: 'tip', context: { from: 'app-window' } }),
      { replyType: 'InterventionResponse', timeoutMs: 8000, from: 'ai-integration' },
    )
  })

  it('says a poke was refused, and clears the error at the next that goes', async () => {
    const fake = fakeBus()
    await openWindow(fake)
    fake.bus.publish.mockRejectedValueOnce({ kind: 'QueueFull', message: 'QueueFull: storage is full' })
    await act(async () => button('poke')?.click())
    expect(text('error')).toBe('QueueFull: storage is full')
    await act(async () => button('poke')?.click())
    expect(text('error')).toBeUndefined()
    expect(fake.bus.publish).toHaveBeenLastCalledWith(
      'RawEvent',
      expect.objectContaining({ eventType: 'poke' }),
    )
    // A failure that is no bus error is said with its name.
    fake.bus.publish.mockRejectedValueOnce(new TypeError('cannot clone'))
    await act(async () => button('poke')?.click())
    expect(text('error')).toBe('TypeError: cannot clone')
  })

  it('says a subscription was refused, and never offers a tip it could not hear the answer to', async () => {
    const fake = fakeBus()
    fake.bus.subscribe.mockRejectedValueOnce({
      kind: 'Unauthorized',
      message: 'Unauthorized: may not subscribe',
    })
    await openWindow(fake)
    expect(text('error')).toBe('Unauthorized: may not subscribe')
    expect(button('ask')?.disabled).toBe(true)
    expect(button('poke')?.disabled).toBe(false)
  })

  it('offers neither button away from the bus, and says so', async () => {
    const fake = fakeBus()
    await openWindow(fake, 'reconnecting')
    expect([button('ask')?.disabled, button('poke')?.disabled]).toEqual([true, true])
    expect(button('poke')?.title).toBe('Waiting for the connection to the bus')
    expect(text('offline')).toBe('The connection to the bus dropped; reconnecting…')
    expect(text('connection')).toBe('reconnecting')
    // app.css colours the state by its class.
    expect(root.querySelector('[data-testid=connection]')?.className).toBe(
      'connection connection-reconnecting',
    )
  })

  it('says nothing dropped while it first connects', async () => {
    const fake = fakeBus()
    await openWindow(fake, 'connecting')
    expect([button('ask')?.disabled, button('poke')?.disabled]).toEqual([true, true])
    expect(text('connection')).toBe('connecting')
    expect(text('offline')).toBeUndefined()
  })

  it('subscribes Reliable to rewards, which must not be lost, and to the newest only of what it shows as it is now', async () => {
    const fake = fakeBus()
    await openWindow(fake)
    expect(
      fake.bus.subscribe.mock.calls.map(([filter, mode, , options]) => [filter.types[0], mode, options]),
    ).toEqual([
      ['AnimationCommand', { kind: 'LatestOnly' }, { label: 'animates the figurine' }],
      ['StateChange', { kind: 'LatestOnly' }, { label: 'shows the activity' }],
      ['RewardEvent', { kind: 'Reliable', timeoutMs: 5000 }, { label: 'counts rewards' }],
      ['InterventionResponse', { kind: 'BestEffort' }, { label: "shows Skelly's answers" }],
      ['StorageStatus', { kind: 'LatestOnly' }, { label: 'shows the stored events' }],
    ])
  })

  it('shows the rewards this tab kept before a reload', async () => {
    sessionStorage.setItem(
      'skelly.rewards',
      JSON.stringify([{ rewardId: 'r-1', points: 1500, description: 'kept across the reload' }]),
    )
    const fake = fakeBus()
    await openWindow(fake)
    expect(text('points')).toBe('1,500')
    expect(text('reward-count')).toBe('kept across the reload')
  })

  it('ends its subscriptions and stops listening to the connection when it closes', async () => {
    const fake = fakeBus()
    await openWindow(fake)
    await act(() => render(null, root))
    await act(async () => {})
    expect(fake.unsubscribed.sort()).toEqual(
      ['AnimationCommand', 'InterventionResponse', 'RewardEvent', 'StateChange', 'StorageStatus'].map(
        (t) => `sub-${t}`,
      ),
    )
    expect(fake.connection.listening).toBe(0)
  })
})
