/**
 * The order the hosts start modules in: DataCapture, whose RawEvents are Storage's to write, waits
 * for Storage's `ModuleReady` (at most START_AFTER_WAIT_MS); a module with nothing to wait for, or
 * whose awaited module does not run, starts at once. No module of the app starts after two others:
 * Gamification is made to here (after Storage and AnalysisEngine), to check a wait for several.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { type EventBus, ModuleId } from '../../src/main/bus/index.js'
import { START_AFTER_WAIT_MS, startInOrder } from '../../src/main/host/start-order.js'
import { advance, publishModuleReady, useFakeClock, waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'

vi.mock('../../src/modules/index.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/modules/index.js')>()
  const gamification = actual.moduleDefinitions[ModuleId.Gamification]
  return {
    ...actual,
    moduleDefinitions: {
      ...actual.moduleDefinitions,
      [ModuleId.Gamification]: { ...gamification, startsAfter: [ModuleId.Storage, ModuleId.AnalysisEngine] },
    },
  }
})

/** The subscriptions the wait holds on the bus (labelled "start order"). */
async function waitSubscriptions(bus: EventBus) {
  return (await bus.metrics()).subscriptions.filter(({ label }) => label === 'start order')
}

async function waits(bus: EventBus): Promise<number> {
  return (await waitSubscriptions(bus)).length
}

/** Publishes `module`'s ModuleReady and waits until the wait has handled it. */
async function ready(bus: EventBus, module: ModuleId): Promise<void> {
  const handled = async () => (await waitSubscriptions(bus))[0]?.delivered ?? 0
  const before = await handled()
  await publishModuleReady(bus, module)
  await waitFor(async () => (await handled()) > before)
}

describe('the modules’ start order', () => {
  it('starts DataCapture once Storage said it is ready, and no sooner; the others at once', async () => {
    const { bus } = await startHub()
    const started: string[] = []
    startInOrder(bus, [ModuleId.DataCapture, ModuleId.Storage, ModuleId.AnalysisEngine], (id) =>
      started.push(id),
    )
    expect(started).toEqual([ModuleId.Storage, ModuleId.AnalysisEngine])
    expect(await waits(bus)).toBe(1)
    await publishModuleReady(bus, ModuleId.AnalysisEngine)
    await publishModuleReady(bus, ModuleId.Storage)
    await waitFor(() => started.length === 3)
    expect(started).toEqual([ModuleId.Storage, ModuleId.AnalysisEngine, ModuleId.DataCapture])
    await waitFor(async () => (await waits(bus)) === 0)
    await publishModuleReady(bus, ModuleId.Storage) // a restart's: nothing starts twice
    expect(started).toHaveLength(3)
  })

  it('starts a module once every module it starts after is ready, not on another’s word', async () => {
    const { bus } = await startHub()
    const started: string[] = []
    const modules = [ModuleId.Gamification, ModuleId.Storage, ModuleId.AnalysisEngine, ModuleId.AiIntegration]
    startInOrder(bus, modules, (id) => started.push(id))
    expect(started).toEqual([ModuleId.Storage, ModuleId.AnalysisEngine, ModuleId.AiIntegration])
    await ready(bus, ModuleId.AiIntegration) // not one it waits for
    await ready(bus, ModuleId.Storage) // one of the two
    expect(started).toHaveLength(3)
    await ready(bus, ModuleId.AnalysisEngine)
    expect(started.at(-1)).toBe(ModuleId.Gamification)
  })

  it('starts DataCapture at once where Storage does not run, and waits for nothing', async () => {
    const { bus } = await startHub()
    const started: string[] = []
    startInOrder(bus, [ModuleId.DataCapture, ModuleId.Gamification], (id) => started.push(id))
    expect(started).toEqual([ModuleId.DataCapture, ModuleId.Gamification])
    expect(await waits(bus)).toBe(0)
  })

  it(`starts DataCapture anyway once Storage has not been ready for ${START_AFTER_WAIT_MS / 1000} s`, async () => {
    const { bus } = await startHub()
    useFakeClock()
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTestFinished(() => warned.mockRestore())
    const started: string[] = []
    startInOrder(bus, [ModuleId.Storage, ModuleId.DataCapture], (id) => started.push(id))
    await advance(START_AFTER_WAIT_MS - 1)
    expect(started).toEqual([ModuleId.Storage])
    await advance(1)
    expect(started).toEqual([ModuleId.Storage, ModuleId.DataCapture])
    expect(warned.mock.calls).toEqual([
      [
        'data-capture starts without storage, not ready after 10 s: what it publishes before they subscribe goes to no one',
      ],
    ])
    expect(await waits(bus)).toBe(0)
  })

  it('starts nothing more once told to stop waiting', async () => {
    const { bus } = await startHub()
    useFakeClock()
    const started: string[] = []
    const stopWaiting = startInOrder(bus, [ModuleId.Storage, ModuleId.DataCapture], (id) => started.push(id))
    stopWaiting()
    await publishModuleReady(bus, ModuleId.Storage)
    await advance(START_AFTER_WAIT_MS)
    expect(started).toEqual([ModuleId.Storage])
    expect(await waits(bus)).toBe(0)
  })

  it('starts nothing that waits, and keeps no timer, where a shut bus refuses its subscription', async () => {
    const { bus } = await startHub()
    await bus.shutdown({ drainTimeoutMs: 0 })
    useFakeClock()
    const started: string[] = []
    startInOrder(bus, [ModuleId.Storage, ModuleId.DataCapture], (id) => started.push(id))
    // The refusal is handled (an unhandled one fails the run) and ends the wait at once.
    await advance(0)
    expect(vi.getTimerCount()).toBe(0)
    await advance(START_AFTER_WAIT_MS)
    expect(started).toEqual([ModuleId.Storage])
  })
})
