/**
 * DataCapture's generator on a fake clock, publishing to a test double: how many RawEvents each
 * tick brings at a rate, how each phase weighs the kinds of event, and that a new rate, a new
 * phase length and a stop each take effect from the next tick.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import dataCapture from '../../src/modules/data-capture.js'
import { moduleOptionSchemas } from '../../src/modules/options.js'
import type { DataOf } from '../../src/shared/catalog.js'
import { advance, useFakeClock } from '../helpers.js'
import { fakeBus } from './fake-bus.js'

const TICK_MS = 100

afterEach(() => {
  vi.restoreAllMocks()
})

/** DataCapture started with `options`, on the fake clock; `events()` are its RawEvents' data so far. */
async function capturing(options: { rate: number; phaseMs: number }) {
  useFakeClock()
  await advance(250) // phases count from DataCapture's start, not the clock's
  const { bus, published } = fakeBus(async (message) => message.id)
  const running = await dataCapture.start(bus, {
    dataDir: '.',
    options: moduleOptionSchemas['data-capture'].parse(options),
    log: () => {},
  })
  const events = () => published.map(({ payload }) => payload.data as DataOf<'RawEvent'>)
  return { running, events }
}

/** How many of `events` are of each kind. */
function kinds(events: DataOf<'RawEvent'>[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { eventType } of events) counts[eventType] = (counts[eventType] ?? 0) + 1
  return counts
}

describe('DataCapture', () => {
  it('publishes its rate each second, a tick at a time, owing what a tick cannot send whole', async () => {
    const { running, events } = await capturing({ rate: 5, phaseMs: 60_000 })
    await advance(TICK_MS)
    expect(events()).toHaveLength(0) // half an event owed
    await advance(TICK_MS)
    expect(events()).toHaveLength(1)
    await advance(800)
    expect(events()).toHaveLength(5)
    // A new rate applies from the next tick on.
    expect(running.configure?.('rate', 50)).toBe(true)
    // Another module's key is not one of its own (a ConfigUpdate sent to it by name is refused then).
    expect(running.configure?.('cooldownMs', 50)).toBe(false)
    await advance(TICK_MS)
    expect(events()).toHaveLength(10)
    await running.stop()
    await advance(1_000)
    expect(events()).toHaveLength(10) // nothing once stopped
  })

  it('moves from focused typing to distracted switching to idle, each phase as long as phaseMs, then over again', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const { running, events } = await capturing({ rate: 1_000, phaseMs: 1_000 })
    // The first phase's ticks (at 100 … 900 ms): a hundred keystrokes each, typed in the editor.
    await advance(900)
    const focused = events()
    expect(focused).toHaveLength(900)
    expect(kinds(focused)).toEqual({ keystroke: 900 })
    expect(new Set(focused.map(({ windowTitle }) => windowTitle))).toEqual(new Set(['main.ts — Editor']))
    expect(
      focused
        .slice(0, 9)
        .map(({ data }) => (data as { key: string }).key)
        .join(''),
    ).toBe('the quick')
    // Distracted (1,000 … 1,900 ms): as busy, moving the mouse from window to window.
    await advance(1_000)
    const distracted = events().slice(900)
    expect(distracted).toHaveLength(1_000)
    expect(kinds(distracted)).toEqual({ mouse_move: 1_000 })
    expect(distracted[0]?.data).toEqual({ x: 960, y: 540 })
    expect(new Set(distracted.map(({ windowTitle }) => windowTitle)).size).toBe(5)
    // Idle (2,000 … 2,900 ms): 3 % of the rate, the mouse moved now and then.
    await advance(1_000)
    expect(kinds(events().slice(1_900))).toEqual({ mouse_move: 30 })
    // Then focused again.
    await advance(TICK_MS)
    expect(kinds(events().slice(1_930))).toEqual({ keystroke: 100 })
    // A new phase length applies from the next tick: at 3,100 ms with phases of 2,000, the second: distracted.
    expect(running.configure?.('phaseMs', 2_000)).toBe(true)
    await advance(TICK_MS)
    expect(kinds(events().slice(2_030))).toEqual({ mouse_move: 100 })
    await running.stop()
  })

  it('weighs each phase’s kinds of event: focused mostly keystrokes, some mouse moves, few window switches', async () => {
    const random = vi.spyOn(Math, 'random')
    const { running, events } = await capturing({ rate: 10, phaseMs: 60_000 })
    // One event a tick; its kind is the first draw (a mouse move draws twice more, for x and y).
    for (const draw of [0, 0.849, 0.85, 0.97, 0.99]) {
      random.mockReturnValue(draw)
      await advance(TICK_MS)
    }
    expect(events().map(({ eventType }) => eventType)).toEqual([
      'keystroke',
      'keystroke',
      'mouse_move',
      'mouse_move',
      'window_focus',
    ])
    expect(events()[4]?.data).toEqual({ from: 'Terminal' }) // the window switched from: the fifth of five
    await running.stop()
  })
})
