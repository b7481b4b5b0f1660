// @vitest-environment happy-dom
/**
 * The inspector's dead-letter view against a bus made to order: what Playwright's hub cannot be
 * made to do on cue, such as an action that fails as a whole. Every row is drawn (no layout here).
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import type { SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { DeadLetters } from '../../src/renderer/inspector/DeadLetters.js'
import type { DeadLetterEntry } from '../../src/shared/dead-letter.js'
import { rawEvent } from '../helpers.js'
import { windowRoot } from './view-stubs.js'

vi.mock('../../src/renderer/inspector/windowed-rows.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/windowed-rows.js')>()),
  useWindowedRows: (await import('./view-stubs.js')).everyRowDrawn,
}))

const root = windowRoot()

/** A RawEvent Storage's subscription gave up on, `minutesAgo` minutes ago. */
function entry(id: string, minutesAgo: number): DeadLetterEntry {
  const failedAt = new Date(Date.now() - minutesAgo * 60_000)
  return {
    id,
    message: BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())),
    subscriptionId: 'sub-storage',
    module: ModuleId.Storage,
    reason: 'MaxRetriesExceeded',
    attempts: 3,
    lastError: 'Error: disk full',
    firstFailedAt: failedAt,
    lastFailedAt: failedAt,
  }
}

/** A bus whose dead-letter queue holds `held`; `deadLetters` may be replaced by a test. */
function busHolding(held: DeadLetterEntry[]) {
  const calls = { list: 0 }
  const deadLetters: SkellyBusApi['deadLetters'] = {
    list: async () => {
      calls.list++
      return [...held]
    },
    replay: async () => ({ replayed: [], failed: [] }),
    purge: async (selector) => {
      const ids = Array.isArray(selector) ? selector : []
      const before = held.length
      held.splice(0, held.length, ...held.filter((e) => !ids.includes(e.id)))
      return before - held.length
    },
  }
  return { bus: { deadLetters } as SkellyBusApi, deadLetters, calls }
}

async function show(bus: SkellyBusApi) {
  await act(() => render(<DeadLetters bus={bus} changes={0} connection="open" />, root))
  await act(async () => {}) // the first listing
  const rows = () => [...root.querySelectorAll<HTMLElement>('[data-testid=dead-letter]')]
  const click = (testId: string) =>
    act(() => root.querySelector<HTMLElement>(`[data-testid=${testId}]`)?.click())
  const select = (row: HTMLElement | undefined) =>
    act(() => row?.querySelector<HTMLInputElement>('input[type=checkbox]')?.click())
  const outcome = () => root.querySelector('[data-testid=dlq-outcome]')
  return { rows, click, select, outcome }
}

describe('the dead-letter view', () => {
  it('lists again after an action, without waiting for the metrics to say the queue changed', async () => {
    const { bus, calls } = busHolding([entry('older', 5), entry('newer', 1)])
    const view = await show(bus)
    expect(view.rows().map((row) => row.querySelectorAll('td')[6]?.textContent)).toEqual([
      '1m 0s ago',
      '5m 0s ago',
    ])
    await view.select(view.rows()[1])
    await view.click('purge-selected')
    await act(async () => {})
    expect(view.outcome()?.textContent).toBe('Purged 1 of 1 selected.')
    expect(view.outcome()?.className).toBe('outcome ok')
    expect(calls.list).toBe(2)
    expect(view.rows()).toHaveLength(1)
    expect(view.rows()[0]?.querySelector('input')?.checked).toBe(false)
  })

  it('says in red that an action failed as a whole and why, keeps the list, and lets the selection go', async () => {
    const { bus, deadLetters } = busHolding([entry('a', 2), entry('b', 3)])
    deadLetters.replay = () => Promise.reject(new Error('Disconnected: the hub connection closed'))
    const view = await show(bus)
    await view.select(view.rows()[0])
    expect(root.querySelector('[data-testid=replay-selected]')?.textContent).toBe('Replay selected (1)')
    await view.click('replay-selected')
    await act(async () => {})
    expect(view.outcome()?.textContent).toBe('replay failed: Disconnected: the hub connection closed')
    expect(view.outcome()?.className).toBe('outcome bad')
    expect(view.rows()).toHaveLength(2)
    expect(root.querySelector('[data-testid=replay-selected]')?.textContent).toBe('Replay selected (0)')
  })
})
