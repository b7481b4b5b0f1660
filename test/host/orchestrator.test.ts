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
import { publishModuleReady, stallThisThread, waitFor } from '../helpers.js'

let running: { bus: EventBus; orchestrator: Orchestrator } | undefined
afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
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
  await publishModuleReady(bus, ModuleId.Storage)
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
  await publishModuleReady(bus, ModuleId.Storage)
  const seen: string[] = []
  const watch = setInterval(() => seen.push(status() ?? 'gone'), 5)
  await new Promise((resolve) => setTimeout(resolve, 120)) // two rounds, not yet three
  clearInterval(watch)
  expect(new Set(seen)).toEqual(new Set([ModuleStatus.Healthy]))
  await waitFor(() => status() === ModuleStatus.Degraded, 2_000) // it never answers: silent after all
})

/**
 * An orchestrator over a registry alone (its publishes recorded, not routed), on fake timers and
 * the monotonic clock they drive: each round, and what it asks, can be stepped through. A round
 * judges in a turn of its own, a millisecond after its timer: the steps below end between rounds.
 */
function steppedOrchestrator(healthIntervalMs?: number) {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] })
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now())
  const { registry } = createEventBus()
  const checked: string[] = []
  const bus = {
    registry,
    publish: async (message: BusMessage) => {
      if (message.payload.type === 'HealthCheck') checked.push(message.payload.data.moduleId)
      return message.id
    },
  } as unknown as EventBus
  const orchestrator = startOrchestrator(bus, healthIntervalMs === undefined ? {} : { healthIntervalMs })
  return { registry, checked, orchestrator }
}

it('registers itself Healthy, and asks only the modules that run, every interval (5 s unless told), until it stops', async () => {
  const { registry, checked, orchestrator } = steppedOrchestrator()
  expect(registry.get(ModuleId.Orchestrator)?.status).toBe(ModuleStatus.Healthy)
  registry.setStatus(ModuleId.Storage, ModuleStatus.Healthy)
  registry.setStatus(ModuleId.Gamification, ModuleStatus.Degraded)
  registry.setStatus(ModuleId.AiIntegration, ModuleStatus.Starting)
  registry.setStatus(ModuleId.DataCapture, ModuleStatus.Stopped)
  await vi.advanceTimersByTimeAsync(4_999)
  expect(checked).toEqual([])
  await vi.advanceTimersByTimeAsync(50)
  expect(checked.sort()).toEqual([ModuleId.Gamification, ModuleId.Storage])
  orchestrator.stop()
  await vi.advanceTimersByTimeAsync(20_000)
  expect(checked).toHaveLength(2)
})

it('calls a module silent at the first round more than three intervals after its last answer was seen, not sooner', async () => {
  const { registry, orchestrator } = steppedOrchestrator(100)
  registry.setStatus(ModuleId.Storage, ModuleStatus.Healthy)
  registry.recordHealthCheck(ModuleId.Storage, new Date())
  await vi.advanceTimersByTimeAsync(150) // the round at 100 ms sees its answer
  await vi.advanceTimersByTimeAsync(300) // the round at 400 ms: three intervals since, not more
  expect(registry.get(ModuleId.Storage)?.status).toBe(ModuleStatus.Healthy)
  await vi.advanceTimersByTimeAsync(100) // the round at 500 ms
  expect(registry.get(ModuleId.Storage)?.status).toBe(ModuleStatus.Degraded)
  orchestrator.stop()
})
