/**
 * The headless host's modules, as worker threads, start in order: DataCapture's worker is launched
 * only once Storage has said it is ready, so none of its first RawEvents goes to no one.
 */
import { expect, it } from 'vitest'
import { ModuleId } from '../../src/main/bus/index.js'
import { ModuleStatus } from '../../src/main/bus/registry.js'
import { createHostBus } from '../../src/main/host/host-bus.js'
import { runModules } from '../../src/main/host/run-modules.js'
import type { ModuleLauncher } from '../../src/main/host/supervisor.js'
import { createHub } from '../../src/main/hub/index.js'
import { launchWorker } from '../../src/main/node/worker-launcher.js'
import { tempDirsRemovedAfterAll, waitFor } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('start-order')

it('launches DataCapture once Storage is ready: none of its RawEvents, 200 a tick, goes to no one', async () => {
  const dataDir = await freshDir()
  const host = createHostBus(dataDir, {})
  await host.bus.start()
  const storageWhenLaunching: Record<string, ModuleStatus | undefined> = {}
  const launch: ModuleLauncher = (moduleId, run) => {
    storageWhenLaunching[moduleId] = host.bus.registry.get(ModuleId.Storage)?.status
    return launchWorker(moduleId, run)
  }
  const modules = runModules(host, createHub(host.bus), launch, {
    dataDir,
    modules: [ModuleId.DataCapture, ModuleId.Storage],
    moduleOptions: { 'data-capture': { rate: 2_000 } },
  })
  try {
    const rawEvents = async () => (await host.bus.metrics()).types.RawEvent
    await waitFor(async () => ((await rawEvents())?.published ?? 0) >= 400, 20_000)
    expect(storageWhenLaunching).toEqual({
      [ModuleId.Storage]: ModuleStatus.Starting,
      [ModuleId.DataCapture]: ModuleStatus.Healthy,
    })
    expect((await rawEvents())?.unrouted).toBe(0)
  } finally {
    await modules.stop()
  }
}, 30_000)
