/**
 * What both hosts run once their bus has started (`runModules`), here with no module processes:
 * what its stop does to the bus, the dead-letter log and the Orchestrator. The hosts' own tests
 * run it with modules (test/node, test/electron).
 */
import { readdir, readlink } from 'node:fs/promises'
import { setTimeout as delay } from 'node:timers/promises'
import { expect, it, vi } from 'vitest'
import { DeliveryMode, type EventBusConfigInput, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import { ModuleStatus } from '../../src/main/bus/registry.js'
import { createHostBus } from '../../src/main/host/host-bus.js'
import { runModules } from '../../src/main/host/run-modules.js'
import { createHub } from '../../src/main/hub/index.js'
import { rawMessage, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('run-modules')

async function running(config: EventBusConfigInput = {}) {
  const dataDir = await freshDir()
  const host = createHostBus(dataDir, config)
  await host.bus.start()
  const launch = vi.fn()
  const modules = runModules(host, createHub(host.bus), launch, {
    dataDir,
    modules: [],
    healthIntervalMs: 20,
  })
  return { dataDir, bus: host.bus, modules, launch }
}

/** The files under `dir` this process holds open (Linux's /proc). */
async function openFilesUnder(dir: string): Promise<string[]> {
  const targets = await Promise.all(
    (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  )
  return targets.filter((target) => target.startsWith(dir))
}

it('drains what is in flight within the delivery timeout as it stops', async () => {
  const { bus, modules, launch } = await running({ deliveryTimeoutMs: 5000, workers: 1 })
  const handled: string[] = []
  await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.Reliable(),
    async (m) => {
      await delay(50)
      handled.push(m.id)
    },
  )
  const published = [rawMessage(), rawMessage(), rawMessage()]
  for (const message of published) await bus.publish(message)
  await modules.stop()
  expect(handled).toEqual(published.map((message) => message.id))
  expect(bus.deadLetters.list()).toEqual([])
  await expect(bus.publish(rawMessage())).rejects.toMatchObject({ kind: 'BusShuttingDown' })
  expect(launch).not.toHaveBeenCalled()
})

it.runIf(process.platform === 'linux')('leaves no file of its data folder open once stopped', async () => {
  const { dataDir, bus, modules } = await running({ maxRetryAttempts: 0 })
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.Reliable(), () => {
    throw new Error('refused')
  })
  await bus.publish(rawMessage()) // dead-lettered at once: the log opens its file to record it
  await waitFor(async () => (await openFilesUnder(dataDir)).length > 0)
  await modules.stop()
  expect(await openFilesUnder(dataDir)).toEqual([])
})

it('asks for health at the interval it is given, and asks no more once stopped', async () => {
  const { bus, modules } = await running()
  bus.registry.register(ModuleId.Gamification)
  bus.registry.setStatus(ModuleId.Gamification, ModuleStatus.Healthy)
  let checks = 0
  await bus.subscribe(
    ModuleId.Gamification,
    MessageFilter.types(['HealthCheck']),
    DeliveryMode.BestEffort,
    () => {
      checks += 1
    },
  )
  await waitFor(() => checks >= 2, 2000) // the default interval, 5 s, would not
  // It never answers: Degraded after three intervals of silence, as any silent module.
  await waitFor(() => bus.registry.get(ModuleId.Gamification)?.status === ModuleStatus.Degraded, 2000)
  await modules.stop()
  bus.registry.setStatus(ModuleId.Gamification, ModuleStatus.Healthy)
  await delay(200) // ten intervals: a round still running would find it silent again
  expect(bus.registry.get(ModuleId.Gamification)?.status).toBe(ModuleStatus.Healthy)
})
