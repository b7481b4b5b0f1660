/**
 * The hosts' bus: its dead-letter log's troubles reach the inspector as the main process's own
 * reported errors, not only the console, including those found while the bus started.
 */
import { mkdir, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { DeliveryMode, type Envelope, MessageFilter, ModuleId } from '../../src/main/bus/index.js'
import { createHostBus } from '../../src/main/host/host-bus.js'
import { rawMessage, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('host-bus')

it('reports a dead-letter log write that failed, and its rewrite, as errors of the orchestrator', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const dataDir = await freshDir()
  const { bus, deadLetterLog, reportHeldWarnings } = createHostBus(dataDir, { maxRetryAttempts: 0 })
  await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.Reliable(), () => {
    throw new Error('disk full')
  })
  const reports: Envelope[] = []
  await bus.subscribe(ModuleId.CuteFigurine, MessageFilter.types(['Error']), DeliveryMode.BestEffort, (m) => {
    reports.push(m)
  })
  await bus.start()
  bus.registry.register(ModuleId.Orchestrator) // as the host's orchestrator does
  reportHeldWarnings() // none held: nothing is reported
  const path = join(dataDir, 'dead-letters.jsonl')
  await mkdir(path) // a folder where the log should be: its first write fails
  await bus.publish(rawMessage())
  await waitFor(() => bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 1)
  expect(bus.registry.get(ModuleId.Orchestrator)?.lastError).toMatchObject({
    errorType: 'DeadLetterLog',
    message: expect.stringMatching(/write failed: .*EISDIR/),
  })
  await waitFor(() => reports.length === 1)
  expect(reports[0]?.payload.data).toMatchObject({ module: ModuleId.Orchestrator, context: { dataDir } })
  // The bus took the host's configuration: no retry before the dead letter.
  expect(bus.deadLetters.list()[0]?.attempts).toBe(1)
  await rmdir(path)
  await bus.publish(rawMessage())
  await waitFor(() => bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 2)
  expect(bus.registry.get(ModuleId.Orchestrator)?.lastError?.message).toMatch(/rewritten with the 2 entries/)
  expect(warn).toHaveBeenCalledTimes(2) // the console has both as well
  await bus.shutdown()
  await deadLetterLog.close()
  warn.mockRestore()
})

it('holds a recovery made while the bus starts, and reports it once the orchestrator is registered', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const dataDir = await freshDir()
  await writeFile(join(dataDir, 'dead-letters.jsonl'), 'not json at all\n')
  const { bus, deadLetterLog, reportHeldWarnings } = createHostBus(dataDir)
  await bus.start() // loads the log: the recovery is warned of here
  expect(warn).toHaveBeenCalledWith(expect.stringMatching(/record 1 is corrupt/))
  bus.registry.register(ModuleId.Orchestrator)
  expect(bus.registry.get(ModuleId.Orchestrator)?.errorsReported ?? 0).toBe(0)
  reportHeldWarnings()
  await waitFor(() => bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 1)
  expect(bus.registry.get(ModuleId.Orchestrator)?.lastError).toMatchObject({
    errorType: 'DeadLetterLog',
    message: expect.stringMatching(/record 1 is corrupt .*; recovered 0 entries/),
  })
  reportHeldWarnings() // reported once only
  await bus.shutdown()
  expect(bus.registry.get(ModuleId.Orchestrator)?.errorsReported).toBe(1)
  await deadLetterLog.close()
  warn.mockRestore()
})
