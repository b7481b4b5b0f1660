/**
 * The hosts' bus: its dead-letter log's troubles reach the inspector as the main process's own
 * reported errors, not only the console.
 */
import { mkdir, mkdtemp, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { DeliveryMode, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import { createHostBus } from '../../src/main/host/host-bus.js'
import { rawMessage, waitFor } from '../helpers.js'

it('reports a dead-letter log write that failed, and its rewrite, as errors of the orchestrator', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const dataDir = await mkdtemp(join(tmpdir(), 'skelly-host-bus-'))
  const { bus, deadLetterLog } = createHostBus(dataDir, { maxRetryAttempts: 0 })
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.Reliable(), () => {
    throw new Error('disk full')
  })
  await bus.start()
  bus.registry.register(ModuleId.Orchestrator) // as the host's orchestrator does
  const path = join(dataDir, 'dead-letters.jsonl')
  await mkdir(path) // a folder where the log should be: its first write fails
  await bus.publish(rawMessage())
  await waitFor(() => bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 1)
  expect(bus.registry.get(ModuleId.Orchestrator)?.lastError).toMatchObject({
    errorType: 'DeadLetterLog',
    message: expect.stringMatching(/write failed: .*EISDIR/),
  })
  await rmdir(path)
  await bus.publish(rawMessage())
  await waitFor(() => bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 2)
  expect(bus.registry.get(ModuleId.Orchestrator)?.lastError?.message).toMatch(/rewritten with the 2 entries/)
  expect(warn).toHaveBeenCalledTimes(2) // the console has both as well
  await bus.shutdown()
  await deadLetterLog.close()
  warn.mockRestore()
})
