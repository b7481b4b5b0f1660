/**
 * The module supervisor with a launcher whose processes the test ends: restarts with capped,
 * doubling backoff, a backoff that starts over after a stable run, and none once it stops; a stop
 * that waits for every process to end; what it says of each module, in its states and the registry.
 */
import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ModuleId } from '../../src/main/bus/index.js'
import { ModuleStatus } from '../../src/main/bus/registry.js'
import type { Orchestrator } from '../../src/main/host/orchestrator.js'
import {
  type ModuleLauncher,
  ModuleSupervisor,
  NEVER_STARTED,
  type ProcessExit,
  processExit,
} from '../../src/main/host/supervisor.js'
import { publishModuleReady, sleep, waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'

/** A launcher whose processes run until the test ends them. */
function fakeLauncher() {
  const launched: { moduleId: string; exit(result: ProcessExit): void }[] = []
  const launch: ModuleLauncher = (moduleId) => {
    let exit: (result: ProcessExit) => void = () => {}
    const exited = new Promise<ProcessExit>((resolve) => {
      exit = resolve
    })
    launched.push({ moduleId, exit })
    return { port: new MessageChannel().port1, exited, kill: async () => exit({ code: 1 }) }
  }
  return { launch, launched }
}

const ending = { requestShutdown: () => Promise.resolve() } as unknown as Orchestrator

/** Ends process `index` and checks (on fake timers) that the next starts `backoffMs` later, not sooner. */
async function expectRestartAfter(
  launched: { exit(result: ProcessExit): void }[],
  index: number,
  backoffMs: number,
  exit: ProcessExit = { code: 1 },
): Promise<void> {
  launched[index]?.exit(exit)
  await vi.advanceTimersByTimeAsync(backoffMs - 1)
  expect(launched, `restarted sooner than ${backoffMs} ms`).toHaveLength(index + 1)
  await vi.advanceTimersByTimeAsync(1)
  expect(launched, `not restarted after ${backoffMs} ms`).toHaveLength(index + 2)
}

async function supervising(launch: ModuleLauncher) {
  const { bus, hub } = await startHub()
  const supervisor = new ModuleSupervisor(bus, hub, launch, {
    dataDir: '/nonexistent',
    restartInitialMs: 40,
    restartMaxMs: 160,
  })
  supervisor.start([ModuleId.Storage])
  return { bus, hub, supervisor, stop: () => supervisor.stop(ending, 100) }
}

/** A supervised module whose process died three times, restarted after 40, 80 and 160 ms (on fake timers). */
async function diedThrice() {
  const { launch, launched } = fakeLauncher()
  const { stop } = await supervising(launch)
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  for (const [death, backoffMs] of [40, 80, 160].entries())
    await expectRestartAfter(launched, death, backoffMs)
  return { launched, stop }
}

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('the module supervisor', () => {
  it('restarts a module that keeps dying after 40, 80, 160 and 160 ms, and says so in the registry', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, supervisor, stop } = await supervising(launch)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    for (const [death, backoffMs] of [40, 80, 160, 160].entries())
      await expectRestartAfter(launched, death, backoffMs, { code: 3, error: 'Error: boom' })
    expect(supervisor.states()).toEqual([
      { moduleId: ModuleId.Storage, running: true, restarts: 4, lastExitCode: 3 },
    ])
    expect(bus.registry.get(ModuleId.Storage)).toMatchObject({
      status: 'Starting',
      restarts: 4,
      lastExit: { code: 3, error: 'Error: boom' },
    })
    vi.useRealTimers()
    await stop()
  })

  it('starts the backoff over for a module that ran 30 s before it died', async () => {
    const { launched, stop } = await diedThrice()
    // The fourth run lasts half a minute (on the monotonic clock the supervisor reads); then it
    // dies, and waits 40 ms again, not the 160 it had reached.
    const now = performance.now.bind(performance)
    vi.spyOn(performance, 'now').mockImplementation(() => now() + 31_000)
    await expectRestartAfter(launched, 3, 40)
    vi.useRealTimers()
    await stop()
  })

  it('keeps the backoff across a step of the wall clock: the run did not last', async () => {
    const { launched, stop } = await diedThrice()
    // The system clock is set a minute ahead (a time sync, a user's change) while the fourth run lasts an instant.
    vi.setSystemTime(Date.now() + 60_000)
    await expectRestartAfter(launched, 3, 160)
    vi.useRealTimers()
    await stop()
  })

  it('restarts nothing once it stops, and marks what it stopped Stopped', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, supervisor, stop } = await supervising(launch)
    launched[0]?.exit({ code: 1 }) // dies, and waits out its backoff …
    await waitFor(() => supervisor.states()[0]?.running === false, 1_000)
    await stop() // … which the stop cancels
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(launched).toHaveLength(1)
    expect(supervisor.states()[0]).toMatchObject({ running: false, restarts: 0 })
    expect(bus.registry.get(ModuleId.Storage)?.status).toBe('Stopped')
  })

  it('retries a module whose process the system would not start, with backoff, instead of throwing from a timer', async () => {
    const { launch, launched } = fakeLauncher()
    let attempts = 0
    const refusingTwice: ModuleLauncher = (moduleId, run) => {
      attempts++
      if (attempts === 2 || attempts === 3) throw new Error('spawn EAGAIN')
      return launch(moduleId, run)
    }
    const { bus, supervisor, stop } = await supervising(refusingTwice)
    launched[0]?.exit({ code: 1 })
    await waitFor(() => bus.registry.get(ModuleId.Storage)?.lastExit?.code === NEVER_STARTED, 2_000)
    expect(bus.registry.get(ModuleId.Storage)).toMatchObject({
      status: 'Unhealthy',
      lastExit: { code: NEVER_STARTED, error: 'could not start: Error: spawn EAGAIN' },
    })
    // The fourth attempt starts it.
    await waitFor(() => launched.length === 2, 2_000)
    expect(attempts).toBe(4)
    expect(supervisor.states()[0]).toMatchObject({ running: true, restarts: 3 })
    await stop()
  })

  it('ends a restarted process the hub will not take, and says why', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, hub, stop } = await supervising(launch)
    hub.close()
    launched[0]?.exit({ code: 1 })
    await waitFor(
      () => /^could not attach: /.test(bus.registry.get(ModuleId.Storage)?.lastExit?.error ?? ''),
      2_000,
    )
    expect(bus.registry.get(ModuleId.Storage)?.lastExit?.error).toContain('BusShuttingDown')
    await stop()
  })

  it('refuses a module it does not know, and hands out copies of its states', async () => {
    const { launch } = fakeLauncher()
    const { supervisor, stop } = await supervising(launch)
    expect(() => supervisor.start(['Nope'])).toThrow("no module 'Nope'")
    const [state] = supervisor.states()
    if (state !== undefined) state.restarts = 99
    expect(supervisor.states()).toEqual([{ moduleId: ModuleId.Storage, running: true, restarts: 0 }])
    await stop()
  })

  it('kills a module as a crash would when asked, and restarts it', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, supervisor, stop } = await supervising(launch)
    await supervisor.kill(ModuleId.Storage)
    await waitFor(() => launched.length === 2, 2_000)
    expect(supervisor.states()[0]).toMatchObject({ running: true, restarts: 1, lastExitCode: 1 })
    expect(bus.registry.get(ModuleId.Storage)?.lastExit).toStrictEqual({ code: 1, at: expect.any(Date) })
    await stop()
  })

  it('stops once every process has ended: one that did not shut down is killed, and waited for', async () => {
    const { launch, launched } = fakeLauncher()
    // Its kill returns at once; the process ends 50 ms later, as a signalled process does.
    const slowToDie: ModuleLauncher = (moduleId, run) => {
      const process = launch(moduleId, run)
      return { ...process, kill: async () => void setTimeout(() => void process.kill(), 50) }
    }
    const { bus, supervisor, stop } = await supervising(slowToDie)
    await stop() // waits 100 ms for a shutdown that never comes
    expect(launched).toHaveLength(1)
    expect(supervisor.states()[0]).toMatchObject({ running: false, lastExitCode: 1 })
    expect(bus.registry.get(ModuleId.Storage)?.status).toBe('Stopped')
  })

  it('says why the hub refused a process only of that process', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, hub, stop } = await supervising(launch)
    const attach = hub.attach.bind(hub)
    vi.spyOn(hub, 'attach')
      .mockImplementationOnce(() => {
        throw new Error('refused once')
      })
      .mockImplementation(attach)
    launched[0]?.exit({ code: 1 })
    // The restart's process is refused and ended; the next is taken.
    await waitFor(() => launched.length === 3, 2_000)
    launched[2]?.exit({ code: 2 })
    await waitFor(() => bus.registry.get(ModuleId.Storage)?.lastExit?.code === 2, 2_000)
    expect(bus.registry.get(ModuleId.Storage)?.lastExit).toStrictEqual({ code: 2, at: expect.any(Date) })
    await stop()
  })

  it('starts DataCapture once Storage is ready, and never once it stopped before then', async () => {
    const { launch, launched } = fakeLauncher()
    const { bus, hub } = await startHub()
    const supervisor = new ModuleSupervisor(bus, hub, launch, { dataDir: '/nonexistent' })
    supervisor.start([ModuleId.DataCapture, ModuleId.Storage])
    expect(launched.map(({ moduleId }) => moduleId)).toEqual([ModuleId.Storage])
    expect(bus.registry.get(ModuleId.DataCapture)?.status).toBe(ModuleStatus.Starting)
    await supervisor.stop(ending, 10)
    await publishModuleReady(bus, ModuleId.Storage)
    await sleep(50)
    expect(launched.map(({ moduleId }) => moduleId)).toEqual([ModuleId.Storage])
    expect(bus.registry.get(ModuleId.DataCapture)?.status).toBe(ModuleStatus.Stopped)
    expect(supervisor.states().find(({ moduleId }) => moduleId === ModuleId.DataCapture)?.running).toBe(false)
  })
})

describe('processExit', () => {
  it('is the exit code, with the error the process died of only when one was heard', () => {
    expect(processExit(0, undefined)).toStrictEqual({ code: 0 })
    expect(processExit(1, 'Error: boom')).toStrictEqual({ code: 1, error: 'Error: boom' })
  })
})
