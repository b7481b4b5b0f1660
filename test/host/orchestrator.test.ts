import { afterEach, expect, it, vi } from 'vitest'
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  type EventBus,
  MessageFilter,
  MessagePayload,
  ModuleId,
  ModuleStatus,
} from '../../src/main/bus/index.js'
import { type Orchestrator, startOrchestrator } from '../../src/main/host/orchestrator.js'
import { stallThisThread, waitFor } from '../helpers.js'

let running: { bus: EventBus; orchestrator: Orchestrator } | undefined
afterEach(async () => {
  vi.useRealTimers()
  running?.orchestrator.stop()
  await running?.bus.shutdown({ drainTimeoutMs: 0 })
  running = undefined
})

/** A bus, an orchestrator checking every 50 ms, and Storage answering its checks while `answering()`. */
async function checkedStorage(answering: () => boolean) {
  const bus = createEventBus()
  await bus.start()
  await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['HealthCheck']),
    DeliveryMode.BestEffort,
    async (m) => {
      if (m.source !== ModuleId.Orchestrator || !answering()) return
      await bus.publish(
        BusMessage.create(
          ModuleId.Storage,
          MessagePayload.HealthCheck({ moduleId: ModuleId.Storage, timestamp: new Date() }),
        ),
      )
    },
  )
  await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)))
  const orchestrator = startOrchestrator(bus, { healthIntervalMs: 50 })
  running = { bus, orchestrator }
  const status = () => bus.registry.get(ModuleId.Storage)?.status
  return { status, bus }
}

it('marks a module that stops answering Degraded, and Healthy again once it answers', async () => {
  let answering = true
  const { status } = await checkedStorage(() => answering)
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(status()).toBe(ModuleStatus.Healthy)
  answering = false
  await waitFor(() => status() === ModuleStatus.Degraded, 2_000)
  answering = true
  await waitFor(() => status() === ModuleStatus.Healthy, 2_000)
})

it('does not take its own absence (a stalled main process, a machine asleep) for a module’s silence', async () => {
  const { status } = await checkedStorage(() => true)
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(status()).toBe(ModuleStatus.Healthy)
  // Away for ten rounds: nothing was asked, so nothing could be answered.
  stallThisThread(500)
  const seen: string[] = []
  const watch = setInterval(() => seen.push(status() ?? 'gone'), 5)
  await new Promise((resolve) => setTimeout(resolve, 300))
  clearInterval(watch)
  expect(new Set(seen)).toEqual(new Set([ModuleStatus.Healthy]))
})

it.each([
  ['ahead', 3_600_000],
  ['back', -3_600_000],
])(
  'takes a step of the wall clock (%s an hour) for no one’s silence, and still sees one that follows',
  async (_, stepMs) => {
    let answering = true
    const { status } = await checkedStorage(() => answering)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(status()).toBe(ModuleStatus.Healthy)
    // The system clock is set an hour ahead or back (a time sync, a user's change), and keeps running.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + stepMs)
    const seen: string[] = []
    const watch = setInterval(() => seen.push(status() ?? 'gone'), 5)
    await new Promise((resolve) => setTimeout(resolve, 400)) // eight rounds
    clearInterval(watch)
    expect(new Set(seen)).toEqual(new Set([ModuleStatus.Healthy]))
    answering = false
    await waitFor(() => status() === ModuleStatus.Degraded, 2_000)
  },
)

it('gives a module back from a restart its three rounds to answer before it is called silent', async () => {
  let answering = true
  const { status, bus } = await checkedStorage(() => answering)
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(status()).toBe(ModuleStatus.Healthy)
  // It dies (its last answer seen by a round), then restarts for longer than three rounds: silent,
  // but not judged while it starts.
  answering = false
  await new Promise((resolve) => setTimeout(resolve, 110))
  bus.registry.setStatus(ModuleId.Storage, ModuleStatus.Starting)
  await new Promise((resolve) => setTimeout(resolve, 300))
  await bus.publish(BusMessage.create(ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)))
  const seen: string[] = []
  const watch = setInterval(() => seen.push(status() ?? 'gone'), 5)
  await new Promise((resolve) => setTimeout(resolve, 120)) // two rounds, not yet three
  clearInterval(watch)
  expect(new Set(seen)).toEqual(new Set([ModuleStatus.Healthy]))
  await waitFor(() => status() === ModuleStatus.Degraded, 2_000) // it never answers: silent after all
})
