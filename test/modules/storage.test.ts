/**
 * Storage's writes: an event is acknowledged once it is in `events.jsonl`, and the file keeps the
 * order events were delivered in, however the appends are grouped.
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { expect, it } from 'vitest'
import { ModuleId } from '../../src/main/bus/index.js'
import { startOrchestrator } from '../../src/main/host/orchestrator.js'
import { lifecyclePermissions } from '../../src/modules/define.js'
import { runModule } from '../../src/modules/lifecycle.js'
import storage from '../../src/modules/storage.js'
import { fromNodePort } from '../../src/shared/index.js'
import { rawMessage, waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'

it('acknowledges an event once it is written, and writes events in the order they came', async () => {
  const { bus, hub } = await startHub()
  const dataDir = await mkdtemp(join(tmpdir(), 'skelly-storage-'))
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module: storage.id, permissions: lifecyclePermissions(storage) })
  const running = runModule(storage, fromNodePort(port2), { dataDir, options: { batchMs: 60_000 } })
  await waitFor(() => bus.registry.get(storage.id)?.status === 'Healthy')
  await waitFor(async () => (await bus.metrics()).subscriptions.some((s) => s.module === ModuleId.Storage))

  const ids: string[] = []
  for (let i = 0; i < 2_000; i++) ids.push(await bus.publish(rawMessage()))
  const delivered = async () =>
    (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage && s.mode === 'Reliable')
      ?.delivered ?? 0
  // Read at any moment, the file holds at least every event acknowledged by then, in order.
  let checked = 0
  while (checked < ids.length) {
    const acknowledged = await delivered()
    // An append may be under way as the file is read: its last line may be cut short. Every
    // acknowledged line was whole before this read began.
    const lines = (await readFile(join(dataDir, 'events.jsonl'), 'utf8')).split('\n').slice(0, -1)
    const written = lines.map((line) => (JSON.parse(line) as { id: string }).id)
    expect(written.length).toBeGreaterThanOrEqual(acknowledged)
    expect(written).toEqual(ids.slice(0, written.length))
    checked = acknowledged
  }
  const orchestrator = startOrchestrator(bus, { healthIntervalMs: 60_000 })
  orchestrator.stop()
  await orchestrator.requestShutdown(storage.id, 1_000)
  await running
}, 30_000)
