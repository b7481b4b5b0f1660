/**
 * What every module does besides its own job, run in this thread against a real hub: applying a
 * ConfigUpdate (sent by the main process's Orchestrator), and answering one it could not apply with
 * an Error that names why, correlated to the update's id that `configure` resolved with.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  BusMessage,
  type ConfigUpdate,
  DeliveryMode,
  type EventBus,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import type { Hub } from '../../src/main/hub/index.js'
import dataCapture from '../../src/modules/data-capture.js'
import { defineModule, lifecyclePermissions, type ModuleDefinition } from '../../src/modules/define.js'
import gamification from '../../src/modules/gamification.js'
import { runModule } from '../../src/modules/lifecycle.js'
import { settingValue } from '../../src/modules/options.js'
import { SKIPPED_REPORT_MS } from '../../src/modules/skipped-publishes.js'
import { fromNodePort } from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'
import { attachedModule, collected } from './attached-module.js'

describe('a module’s lifecycle', () => {
  it('is granted the lifecycle messages beside its own permissions, each once, and keeps the rest', () => {
    const definition = (permissions: ModuleDefinition['permissions']) =>
      defineModule({ id: 'probe', permissions, start: () => ({ stop() {} }) })
    expect(
      lifecyclePermissions(definition({ publish: ['RawEvent', 'Error'], subscribe: ['HealthCheck'] })),
    ).toEqual({
      publish: ['RawEvent', 'Error', 'ModuleReady', 'HealthCheck'],
      subscribe: ['HealthCheck', 'ConfigUpdate', 'Shutdown'],
    })
    // Everything stays everything, and a grant besides the lists (inspect) is kept.
    expect(lifecyclePermissions(definition({ publish: '*', subscribe: '*', inspect: true }))).toEqual({
      publish: '*',
      subscribe: '*',
      inspect: true,
    })
  })

  it('applies a ConfigUpdate for it, and answers one it cannot apply with an Error saying why', async () => {
    const { bus, hub } = await startHub()
    const applied: number[] = []
    const options = z.strictObject({
      intervalMs: z.number().positive().default(1000).describe('milliseconds, above 0'),
    })
    const ticker = defineModule({
      id: 'ticker',
      permissions: { publish: [], subscribe: [] },
      options,
      start: () => ({
        stop() {},
        configure(key, value) {
          if (key !== 'intervalMs') return false
          applied.push(settingValue(options, key, value))
          return true
        },
      }),
    })
    const { running, errors, update, stop } = await runInThread(bus, hub, ticker)

    await update({ configKey: 'intervalMs', configValue: 250, targetModule: ticker.id })
    await update({ configKey: 'intervalMs', configValue: 500 }) // to every module
    const refusedValue = await update({
      configKey: 'intervalMs',
      configValue: 'fast',
      targetModule: ticker.id,
    })
    const unknownKey = await update({ configKey: 'intervalMS', configValue: 1, targetModule: ticker.id })
    // Not refusals: another module's update, and a broadcast key that is some other module's.
    await update({ configKey: 'intervalMs', configValue: 'fast', targetModule: ModuleId.Storage })
    await update({ configKey: 'rate', configValue: 5 })
    await update({ configKey: 'intervalMs', configValue: 750, targetModule: ticker.id })
    await waitFor(() => applied.length === 3 && errors.length === 2)

    expect(applied).toEqual([250, 500, 750])
    expect(
      errors.map(({ source, correlationId, payload }) => ({ source, correlationId, data: payload.data })),
    ).toEqual([
      {
        source: ticker.id,
        correlationId: refusedValue,
        data: expect.objectContaining({
          errorType: 'ConfigRejected',
          message: `'intervalMs' takes milliseconds, above 0 (got "fast")`,
          module: ticker.id,
          context: { configKey: 'intervalMs', configValue: 'fast' },
        }),
      },
      {
        source: ticker.id,
        correlationId: unknownKey,
        data: expect.objectContaining({
          errorType: 'ConfigRejected',
          message: "ticker has no setting 'intervalMS'",
          context: { configKey: 'intervalMS', configValue: 1 },
        }),
      },
    ])
    await stop()
    await running
  })

  it('hears the orchestrator alone: another module’s HealthCheck answer is not sent to it', async () => {
    const { bus, hub } = await startHub()
    const quiet = idle('quiet')
    const { stop } = await runInThread(bus, hub, quiet)
    const before = bus.registry.get(quiet.id)?.lastHealthCheck
    const healthCheck = (source: string, moduleId: string) =>
      bus.publish(BusMessage.create(source, MessagePayload.HealthCheck({ moduleId, timestamp: new Date() })))
    await healthCheck(ModuleId.Storage, ModuleId.Storage) // Storage's answer to its own check
    await healthCheck(ModuleId.Orchestrator, quiet.id) // the check this module answers
    await waitFor(() => bus.registry.get(quiet.id)?.lastHealthCheck !== before)
    const lifecycle = (await bus.metrics()).subscriptions.find((s) => s.module === quiet.id)
    expect(lifecycle?.routed).toBe(1)
    await stop()
  })

  it('answers only the HealthChecks and Shutdowns addressed to it, each check’s answer a reply to it', async () => {
    const { bus, hub } = await startHub()
    const quiet = idle('quiet')
    const { running, stop } = await runInThread(bus, hub, quiet)
    const answers = await collected(bus, ['HealthCheck'], [quiet.id])
    const check = (moduleId: string) =>
      bus.publish(
        BusMessage.create(
          ModuleId.Orchestrator,
          MessagePayload.HealthCheck({ moduleId, timestamp: new Date() }),
        ),
      )
    await check(ModuleId.Storage)
    await bus.publish(
      BusMessage.create(
        ModuleId.Orchestrator,
        MessagePayload.Shutdown({ moduleId: ModuleId.Storage, timeoutMs: 1_000, saveState: false }),
      ),
    )
    const ownCheck = await check(quiet.id)
    await waitFor(() => answers.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(answers.map(({ correlationId, payload }) => [correlationId, payload.data])).toEqual([
      [ownCheck, { moduleId: quiet.id, timestamp: expect.any(Date) }],
    ])
    // Storage's Shutdown did not stop it.
    expect(hub.attachments().map(({ module, isOpen }) => [module, isOpen])).toEqual([[quiet.id, true]])
    await stop()
    await running
  })

  it('refuses to start on options its module does not take, before it connects', async () => {
    const { port2 } = new MessageChannel()
    await expect(
      runModule(gamification, fromNodePort(port2), { dataDir: '.', options: { cooldownMs: 'soon' } }),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: "gamification's options.cooldownMs: Invalid input: expected number, received string",
    })
    port2.close()
  })

  it('fails to start, saying why, where the hub refuses its lifecycle subscription, and stops what it began', async () => {
    const { bus, hub } = await startHub()
    let stops = 0
    const definition = defineModule({
      id: 'unheard',
      permissions: { publish: [], subscribe: [] },
      start: () => ({ stop: () => void stops++ }),
    })
    const { port1, port2 } = new MessageChannel()
    const attached = hub.attach(port1, {
      module: definition.id,
      permissions: { publish: ['ModuleReady'], subscribe: [] },
    })
    const run = runModule(definition, fromNodePort(port2), { dataDir: '.', options: {} })
    await expect(run).rejects.toMatchObject({
      kind: 'Unauthorized',
      message: expect.stringContaining('HealthCheck'),
    })
    // It never said it was ready: it could hear no HealthCheck or Shutdown.
    expect(bus.registry.get(definition.id)?.status).not.toBe('Healthy')
    expect(stops).toBe(1)
    await waitFor(() => !attached.isOpen) // its connection closed
  })

  it('fails to start, saying why, where the hub is lost before the module is ready', async () => {
    const { hub } = await startHub()
    const { port1, port2 } = new MessageChannel()
    const lostAtStart = defineModule({
      id: 'lost-at-start',
      permissions: { publish: [], subscribe: [] },
      start: () => {
        port1.close()
        return { stop() {} }
      },
    })
    hub.attach(port1, {
      module: lostAtStart.id,
      permissions: { publish: ['ModuleReady'], subscribe: ['HealthCheck', 'ConfigUpdate', 'Shutdown'] },
    })
    // One error, from the run itself: the loss is not reported a second time, unhandled.
    await expect(
      runModule(lostAtStart, fromNodePort(port2), { dataDir: '.', options: {} }),
    ).rejects.toMatchObject({
      kind: 'Disconnected',
    })
  })

  it('refuses a setting sent by name to a module that takes none, saying so', async () => {
    const { bus, hub } = await startHub()
    const { running, errors, update, stop } = await runInThread(bus, hub, idle('plain'))
    const refused = await update({ configKey: 'rate', configValue: 5, targetModule: 'plain' })
    await waitFor(() => errors.length === 1)
    expect(errors[0]).toMatchObject({
      correlationId: refused,
      payload: { data: { errorType: 'ConfigRejected', message: "plain has no setting 'rate'" } },
    })
    await stop()
    await running
  })

  it('ends, saying why, when the hub is lost while it runs', async () => {
    const { bus, hub } = await startHub()
    const { running } = await attachedModule(bus, hub, idle('abandoned'), { dataDir: '.', options: {} })
    hub.close()
    await expect(running).rejects.toThrow(/^lost the hub: /)
  })

  it('DataCapture says, on the bus, how many events a full queue made it skip', async () => {
    // A Storage that never acknowledges, behind a queue of 5: DataCapture's events are soon refused.
    const { bus, hub } = await startHub({ maxQueueSize: 5 })
    await bus.subscribe(
      ModuleId.Storage,
      { types: ['RawEvent'] },
      DeliveryMode.Reliable(),
      () => new Promise(() => {}),
    )
    const { running, errors, stop } = await runInThread(bus, hub, dataCapture)
    await waitFor(() => errors.length > 0, SKIPPED_REPORT_MS + 3_000)
    const [report] = errors
    expect(report?.payload.data).toMatchObject({
      errorType: 'PublishesSkipped',
      module: ModuleId.DataCapture,
      message: expect.stringMatching(
        /^skipped \d+ publishes? in the last 5(\.\d)? s: \d+ RawEvent \(QueueFull: /,
      ),
    })
    await stop()
    await running
  }, 15_000)

  it('DataCapture and Gamification apply each setting they take and refuse the values they cannot', async () => {
    const { bus, hub } = await startHub()
    const cases = [
      {
        module: dataCapture,
        key: 'rate',
        othersKey: 'cooldownMs',
        good: 50,
        bad: 'fast',
        why: `'rate' takes events per second, above 0 (got "fast")`,
      },
      {
        module: dataCapture,
        key: 'phaseMs',
        othersKey: 'cooldownMs',
        good: 1_000,
        bad: 0,
        why: "'phaseMs' takes milliseconds, above 0 (got 0)",
      },
      {
        module: gamification,
        key: 'cooldownMs',
        othersKey: 'rate',
        good: 0,
        bad: -1,
        why: "'cooldownMs' takes milliseconds, 0 or more (got -1)",
      },
    ]
    for (const { module, key, othersKey, good, bad, why } of cases) {
      const { running, errors, update, stop } = await runInThread(bus, hub, module)
      await update({ configKey: key, configValue: good, targetModule: module.id })
      await update({ configKey: othersKey, configValue: 1 }) // to every module: another's key, no refusal
      const refused = await update({ configKey: key, configValue: bad, targetModule: module.id })
      await waitFor(() => errors.length > 0)
      // Updates are handled in order: the good one and the other's, answered by no Error, came first.
      expect(errors.map(({ correlationId, payload }) => ({ correlationId, data: payload.data }))).toEqual([
        {
          correlationId: refused,
          data: expect.objectContaining({ errorType: 'ConfigRejected', message: why }),
        },
      ])
      await stop()
      await running
    }
  })

  it('applies no ConfigUpdate once its Shutdown is under way, and says why', async () => {
    const { bus, hub } = await startHub()
    let finishStopping = () => {}
    const configured: string[] = []
    const slowToStop = defineModule({
      id: 'slow-to-stop',
      permissions: { publish: [], subscribe: [] },
      start: () => ({
        stop: () => new Promise<void>((resolve) => (finishStopping = resolve)),
        configure(key) {
          configured.push(key)
          return true
        },
      }),
    })
    const { running, errors, update, stop } = await runInThread(bus, hub, slowToStop)
    await stop() // its Shutdown is published; the module's stop() is still under way
    const refused = await update({ configKey: 'pace', configValue: 1, targetModule: slowToStop.id })
    await waitFor(() => errors.length > 0)
    expect(configured).toEqual([])
    expect(errors.map(({ correlationId, payload }) => ({ correlationId, data: payload.data }))).toEqual([
      {
        correlationId: refused,
        data: expect.objectContaining({
          errorType: 'ConfigRejected',
          message: 'slow-to-stop is shutting down',
        }),
      },
    ])
    finishStopping()
    await running
  })

  it('stops modules told to shut down at once without dropping a copy of any Shutdown', async () => {
    const { bus, hub } = await startHub()
    const modules = ['first', 'second', 'third'].map(idle)
    const runs = await Promise.all(modules.map((module) => runInThread(bus, hub, module)))
    // As the host stops: every module's Shutdown at once, so each module's copy of the others'
    // arrives beside its own. Each must be handled and acknowledged before its module closes.
    await Promise.all(runs.map(({ stop }) => stop()))
    await Promise.all(runs.map(({ running }) => running))
    await waitFor(async () => (await bus.metrics()).types.Shutdown?.delivered === 9)
    const metrics = await bus.metrics()
    expect(metrics.types.Shutdown).toMatchObject({ published: 3, delivered: 9, dropped: 0 })
    expect(metrics.messagesDropped).toBe(0)
  })
})

/** A module that does nothing but take part in the lifecycle. */
function idle(id: string): ModuleDefinition {
  return defineModule({ id, permissions: { publish: [], subscribe: [] }, start: () => ({ stop() {} }) })
}

/**
 * Runs `definition` in this thread as its runner would, attached to `hub` with the lifecycle's
 * permissions, once it is Healthy; collects the Error messages it publishes.
 */
async function runInThread(bus: EventBus, hub: Hub, definition: ModuleDefinition) {
  const { running, orchestrator } = await attachedModule(bus, hub, definition, { dataDir: '.', options: {} })
  const errors = await collected(bus, ['Error'], [definition.id])
  const update = (data: ConfigUpdate) =>
    orchestrator.configure(data.configKey, data.configValue, data.targetModule)
  const stop = () => orchestrator.requestShutdown(definition.id, 1_000)
  return { running, errors, update, stop }
}
