/**
 * What every module does besides its own job, run in this thread against a real hub: applying a
 * ConfigUpdate, and answering one it could not apply with an Error that names why.
 */
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import {
  BusMessage,
  type ConfigUpdate,
  DeliveryMode,
  type Envelope,
  MessageFilter,
  MessagePayload,
  ModuleId,
} from '../../src/main/bus/index.js'
import { defineModule, lifecyclePermissions, numberSetting } from '../../src/modules/define.js'
import { runModule } from '../../src/modules/lifecycle.js'
import { fromNodePort } from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'

describe('a module’s lifecycle', () => {
  it('applies a ConfigUpdate for it, and answers one it cannot apply with an Error saying why', async () => {
    const { bus, hub } = await startHub()
    const applied: number[] = []
    const ticker = defineModule({
      id: 'ticker',
      permissions: { publish: [], subscribe: [] },
      start: () => ({
        stop() {},
        configure(key, value) {
          if (key !== 'intervalMs') return false
          applied.push(numberSetting(key, value, 'milliseconds, above 0', (ms) => ms > 0))
          return true
        },
      }),
    })
    const { port1, port2 } = new MessageChannel()
    hub.attach(port1, { module: ticker.id, permissions: lifecyclePermissions(ticker) })
    const running = runModule(ticker, fromNodePort(port2), { dataDir: '.', options: {} })
    await waitFor(() => bus.registry.get(ticker.id)?.status === 'Healthy')
    const errors: Envelope[] = []
    await bus.subscribe(
      ModuleId.Orchestrator,
      MessageFilter.types(['Error']),
      DeliveryMode.BestEffort,
      (m) => {
        errors.push(m)
      },
    )
    const update = (data: ConfigUpdate) =>
      bus.publish(BusMessage.create(ModuleId.Orchestrator, MessagePayload.ConfigUpdate(data)))

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
    await bus.publish(
      BusMessage.create(
        ModuleId.Orchestrator,
        MessagePayload.Shutdown({ moduleId: ticker.id, timeoutMs: 1_000, saveState: false }),
      ),
    )
    await running
  })
})
