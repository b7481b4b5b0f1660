/**
 * Storage's writes: an event is acknowledged once it is in `events.jsonl` (or a file it rotated
 * into), and the files keep the order events were delivered in, however the appends are grouped;
 * trouble with its files is said on the bus; what it says of itself (its status, its batches); and
 * how it meets a write or a flush that fails, and its stop.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeEach, expect, it, vi } from 'vitest'
import {
  DeliveryMode,
  type Envelope,
  type EventBatch,
  ModuleId,
  type StorageStatus,
} from '../../src/main/bus/index.js'
import storage from '../../src/modules/storage.js'
import { rawMessage, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'
import { attachedModule, collected } from './attached-module.js'

/**
 * Faults a test puts into Storage's event log, and what the log was asked, in order. The real log
 * does the work underneath; with no fault set the wrapper changes nothing.
 */
const logFaults = vi.hoisted(() => ({
  failAppends: 0,
  failSyncs: 0,
  appendDelayMs: 0,
  calls: [] as string[],
}))
vi.mock('../../src/modules/event-log.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/modules/event-log.js')>()
  const openEventLog: typeof real.openEventLog = async (options) => {
    const log = await real.openEventLog(options)
    const { calls } = logFaults
    return {
      async append(lines) {
        calls.push('append')
        await new Promise((resolve) => setTimeout(resolve, logFaults.appendDelayMs))
        if (logFaults.failAppends > 0 && logFaults.failAppends--) throw new Error('no space left (injected)')
        await log.append(lines)
        calls.push('appended')
      },
      async sync() {
        calls.push('sync')
        if (logFaults.failSyncs > 0 && logFaults.failSyncs--) throw new Error('EIO (injected)')
        await log.sync()
      },
      setLimits: (limits) => log.setLimits(limits),
      get sizeBytes() {
        return log.sizeBytes
      },
      async close() {
        calls.push('close')
        await log.close()
      },
    }
  }
  return { ...real, openEventLog }
})
beforeEach(() => {
  Object.assign(logFaults, { failAppends: 0, failSyncs: 0, appendDelayMs: 0, calls: [] })
})

const isEventFile = (name: string): boolean => /^events(\.\d+)?\.jsonl$/.test(name)
/** 0 for `events.jsonl`, N for `events.N.jsonl`: the higher, the older. */
const age = (name: string): number => Number(/\.(\d+)\./.exec(name)?.[1] ?? 0)

/**
 * The ids in Storage's files, oldest first. An append may be under way as a file is read: its
 * last line may be cut short, and is left out (every acknowledged line was whole before the read
 * began). A rotation during the read moves the files under it, so the read starts again.
 */
async function storedIds(dataDir: string): Promise<string[]> {
  for (;;) {
    const ids = await readStoredIds(dataDir)
    if (ids !== undefined) return ids
  }
}

/** The ids, or undefined if a rotation moved a file away mid-read or added one (none is deleted here). */
async function readStoredIds(dataDir: string): Promise<string[] | undefined> {
  const names = (await readdir(dataDir)).filter(isEventFile).sort((a, b) => age(b) - age(a))
  const ids: string[] = []
  for (const name of names) {
    const text = await readFile(join(dataDir, name), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    const lines = text.split('\n').slice(0, -1)
    ids.push(...lines.map((line) => (JSON.parse(line) as { id: string }).id))
  }
  const after = (await readdir(dataDir)).filter(isEventFile)
  return after.length === names.length ? ids : undefined
}

/**
 * Storage attached to `hub` on `dataDir` with `options`, once it is Healthy and subscribed, with an
 * orchestrator (health checks stopped) to speak to it, and `stop()`, which shuts it down as the
 * host does and waits for it to end.
 */
async function startStorage(
  { bus, hub }: Awaited<ReturnType<typeof startHub>>,
  dataDir: string,
  options: Record<string, unknown>,
) {
  const { running, orchestrator } = await attachedModule(bus, hub, storage, { dataDir, options })
  await waitFor(async () => (await bus.metrics()).subscriptions.some((s) => s.module === ModuleId.Storage))
  return {
    orchestrator,
    async stop() {
      await orchestrator.requestShutdown(storage.id, 1_000)
      await running
    },
  }
}

const freshDataDir = tempDirsRemovedAfterAll('storage')

it('acknowledges an event once it is written, and writes events in the order they came, across rotations', async () => {
  const started = await startHub()
  const { bus } = started
  const dataDir = await freshDataDir()
  // ~190 bytes an event: 2,000 of them fill seven or eight files of 50,000 bytes, all kept.
  const running = await startStorage(started, dataDir, {
    batchMs: 60_000,
    maxFileBytes: 50_000,
    keepFiles: 20,
  })

  const ids: string[] = []
  for (let i = 0; i < 2_000; i++) ids.push(await bus.publish(rawMessage()))
  const delivered = async () =>
    (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage && s.mode === 'Reliable')
      ?.delivered ?? 0
  // Read at any moment, the file holds at least every event acknowledged by then, in order.
  let checked = 0
  while (checked < ids.length) {
    const acknowledged = await delivered()
    const written = await storedIds(dataDir)
    expect(written.length).toBeGreaterThanOrEqual(acknowledged)
    expect(written).toEqual(ids.slice(0, written.length))
    checked = acknowledged
  }
  expect((await readdir(dataDir)).filter(isEventFile).length).toBeGreaterThan(5)
  await running.stop()
}, 30_000)

it('says on the bus, as an Error the inspector shows, that its log ended in a cut-off line', async () => {
  const started = await startHub()
  const reports: Envelope[] = []
  await started.bus.subscribe('watcher', { types: ['Error'] }, DeliveryMode.BestEffort, (message) => {
    reports.push(message)
  })
  const dataDir = await freshDataDir()
  await writeFile(join(dataDir, 'events.jsonl'), '{"id":"a"}\n{"id":"b","even') // killed mid-write
  const running = await startStorage(started, dataDir, {})
  await waitFor(() => reports.length > 0)
  expect(reports[0]?.source).toBe(ModuleId.Storage)
  expect(reports[0]?.payload.data).toMatchObject({
    errorType: 'EventLog',
    module: ModuleId.Storage,
    message: 'events.jsonl ends in a cut-off line (a write was interrupted); the next one starts a new line',
    context: { dataDir },
  })
  await running.stop()
})

it('takes every option by ConfigUpdate while it runs, and refuses a value its schema refuses', async () => {
  const started = await startHub()
  const { bus } = started
  const seen: Envelope[] = []
  await bus.subscribe('watcher', { types: ['EventBatch', 'Error'] }, DeliveryMode.BestEffort, (message) => {
    seen.push(message)
  })
  const dataDir = await freshDataDir()
  const running = await startStorage(started, dataDir, {
    batchMs: 60_000,
    maxFileBytes: 20_000,
    keepFiles: 5,
  })
  const { orchestrator } = running
  const eventFiles = async () => (await readdir(dataDir)).filter(isEventFile).length

  // ~190 bytes an event: 1,000 of them fill more files of 20,000 bytes than the five kept.
  for (let i = 0; i < 1_000; i++) await bus.publish(rawMessage())
  await waitFor(async () => (await eventFiles()) === 6)
  await orchestrator.configure('keepFiles', 1, storage.id)
  await waitFor(async () => (await eventFiles()) === 2)

  // A batch a minute until told otherwise; then one within a fifth of a second.
  expect(seen.filter((m) => m.payload.type === 'EventBatch')).toEqual([])
  await orchestrator.configure('batchMs', 200, storage.id)
  await waitFor(() => seen.some((m) => m.payload.type === 'EventBatch'))

  // Files of at most ~2,000 bytes from the next rotation on, where they held 20,000.
  await orchestrator.configure('maxFileBytes', 2_000, storage.id)
  for (let i = 0; i < 100; i++) await bus.publish(rawMessage())
  // Every event written (each is acknowledged once it is), so no rotation is under way below.
  const written = async () =>
    (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage)?.delivered ?? 0
  await waitFor(async () => (await written()) === 1_100)
  expect((await stat(join(dataDir, 'events.1.jsonl'))).size).toBeLessThan(5_000)

  // The flush's pace is taken (the flush itself is not seen from outside the module).
  const fsyncPace = await orchestrator.configure('fsyncMs', 50, storage.id)

  const refused = await orchestrator.configure('keepFiles', 0, storage.id)
  await waitFor(() => seen.some((m) => m.correlationId === refused))
  expect(seen.find((m) => m.correlationId === refused)?.payload.data).toMatchObject({
    errorType: 'ConfigRejected',
    message: "'keepFiles' takes files, a whole number of 1 or more (got 0)",
  })
  expect(await eventFiles()).toBe(2)
  expect(seen.filter((m) => m.payload.type === 'Error' && m.correlationId !== refused)).toEqual([])
  expect(seen.some((m) => m.correlationId === fsyncPace)).toBe(false)
  await running.stop()
}, 30_000)

/** The Storage subscription's count of events it acknowledged, that is, wrote. */
async function writtenCount(bus: Awaited<ReturnType<typeof startHub>>['bus']): Promise<number> {
  return (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage)?.delivered ?? 0
}

it('writes each event as its id, source and data, and says every second how many it wrote, the bytes its files hold and when it last batched', async () => {
  const started = await startHub()
  const { bus } = started
  const seen = await collected(bus, ['StorageStatus', 'EventBatch'], [ModuleId.Storage])
  const dataDir = await freshDataDir()
  const startedAt = new Date()
  const running = await startStorage(started, dataDir, { batchMs: 60_000 })

  const sent = Array.from({ length: 30 }, (_, n) => rawMessage(undefined, { data: { n } }))
  for (const message of sent) await bus.publish(message)
  await waitFor(async () => (await writtenCount(bus)) === 30)
  const [first] = (await readFile(join(dataDir, 'events.jsonl'), 'utf8')).split('\n')
  expect(JSON.parse(first ?? '')).toEqual({
    id: sent[0]?.id,
    source: ModuleId.DataCapture,
    ...JSON.parse(JSON.stringify(sent[0]?.payload.data)),
  })

  const statuses = () =>
    seen.filter((m) => m.payload.type === 'StorageStatus').map((m) => m.payload.data as StorageStatus)
  await waitFor(() => statuses().some((s) => s.totalEvents === 30))
  const status = statuses().find((s) => s.totalEvents === 30)
  expect(status?.storageSizeBytes).toBe((await stat(join(dataDir, 'events.jsonl'))).size)
  // No batch yet: the last batch time is Storage's start.
  expect(status?.lastBatchTime.getTime()).toBeGreaterThanOrEqual(startedAt.getTime())
  expect(status?.lastBatchTime.getTime()).toBeLessThanOrEqual(sent[0]?.timestamp.getTime() ?? 0)

  await running.orchestrator.configure('batchMs', 100, storage.id)
  await waitFor(() => seen.some((m) => m.payload.type === 'EventBatch'))
  const batchEnds = () =>
    seen
      .filter((m) => m.payload.type === 'EventBatch')
      .map((m) => (m.payload.data as EventBatch).windowEnd.getTime())
  const statusesBefore = statuses().length
  await waitFor(() => statuses().length > statusesBefore)
  expect(batchEnds()).toContain(statuses().at(-1)?.lastBatchTime.getTime())
  await running.stop()
})

it('publishes every batchMs the events that came since the last batch, the last 500 of them at most, in one session', async () => {
  const started = await startHub()
  const { bus } = started
  const seen = await collected(bus, ['EventBatch'], [ModuleId.Storage])
  const dataDir = await freshDataDir()
  const running = await startStorage(started, dataDir, { batchMs: 60_000 })
  const batches = () => seen.map((m) => m.payload.data as EventBatch)
  const numbers = (batch: EventBatch | undefined) =>
    batch?.events.map((event) => (event.data as { n: number }).n)

  for (let n = 0; n < 700; n++) await bus.publish(rawMessage(undefined, { data: { n } }))
  await waitFor(async () => (await writtenCount(bus)) === 700)
  await running.orchestrator.configure('batchMs', 100, storage.id)
  await waitFor(() => batches().length >= 2)
  expect(numbers(batches()[0])).toEqual(Array.from({ length: 500 }, (_, i) => 200 + i))
  expect(numbers(batches()[1])).toEqual([])

  const quietBatches = batches().length
  for (let n = 700; n < 705; n++) await bus.publish(rawMessage(undefined, { data: { n } }))
  await waitFor(() =>
    batches()
      .slice(quietBatches)
      .some((batch) => batch.events.length > 0),
  )
  await waitFor(() => batches().length >= quietBatches + 3)
  expect(batches().slice(quietBatches).flatMap(numbers)).toEqual([700, 701, 702, 703, 704])

  // Windows back to back, one session.
  for (const [i, batch] of batches().entries()) {
    expect(batch.windowEnd.getTime()).toBeGreaterThanOrEqual(batch.windowStart.getTime())
    if (i > 0) expect(batch.windowStart).toEqual(batches()[i - 1]?.windowEnd)
    expect(batch.sessionId).toBe(batches()[0]?.sessionId)
  }
  await running.stop()
})

it('fails only the events of a write that failed, and writes them on their retry', async () => {
  const started = await startHub()
  const { bus } = started
  const dataDir = await freshDataDir()
  const running = await startStorage(started, dataDir, {})
  logFaults.failAppends = 1

  const ids: string[] = []
  for (let i = 0; i < 20; i++) ids.push(await bus.publish(rawMessage()))
  await waitFor(async () => (await writtenCount(bus)) === 20)
  expect((await storedIds(dataDir)).sort()).toEqual(ids.sort())
  const subscription = (await bus.metrics()).subscriptions.find((s) => s.module === ModuleId.Storage)
  expect(subscription?.retried).toBeGreaterThan(0)
  expect(subscription?.deadLettered).toBe(0)
  await running.stop()
})

it('flushes every fsyncMs what it wrote, not when it wrote nothing, and says a flush that failed', async () => {
  const started = await startHub()
  const { bus } = started
  const reports = await collected(bus, ['Error'], [ModuleId.Storage])
  const running = await startStorage(started, await freshDataDir(), { fsyncMs: 50 })
  const syncs = () => logFaults.calls.filter((call) => call === 'sync').length

  await bus.publish(rawMessage())
  await waitFor(() => syncs() === 1)
  await new Promise((resolve) => setTimeout(resolve, 300)) // six flush intervals with nothing written
  expect(syncs()).toBe(1)

  logFaults.failSyncs = 1
  await bus.publish(rawMessage())
  await waitFor(() => reports.length > 0)
  expect(reports[0]?.payload.data).toMatchObject({
    errorType: 'EventLog',
    message: 'could not flush events.jsonl: Error: EIO (injected)',
  })
  await bus.publish(rawMessage()) // the next write is flushed again
  await waitFor(() => syncs() === 3)
  await running.stop()
})

it('closes its log after the write under way as it stops, and leaves no timer running', async () => {
  const started = await startHub()
  const { bus } = started
  const timers = { started: [] as unknown[], cleared: new Set<unknown>() }
  const setIntervalOf = globalThis.setInterval
  vi.spyOn(globalThis, 'setInterval').mockImplementation(((...args: Parameters<typeof setInterval>) => {
    const timer = setIntervalOf(...args)
    if (new Error().stack?.includes('/src/modules/storage.ts')) timers.started.push(timer)
    return timer
  }) as typeof setInterval)
  const clearIntervalOf = globalThis.clearInterval
  vi.spyOn(globalThis, 'clearInterval').mockImplementation((timer) => {
    timers.cleared.add(timer)
    clearIntervalOf(timer)
  })
  const running = await startStorage(started, await freshDataDir(), {})
  await running.orchestrator.configure('batchMs', 500, storage.id) // a timer restarted too

  logFaults.appendDelayMs = 300
  void bus.publish(rawMessage())
  await waitFor(() => logFaults.calls.includes('append'))
  await running.stop()
  vi.restoreAllMocks()
  expect(logFaults.calls.filter((call) => call === 'appended')).toHaveLength(
    logFaults.calls.filter((call) => call === 'append').length,
  )
  expect(logFaults.calls.at(-1)).toBe('close')
  // Its flush, status and batch timers, the batch timer restarted, its skipped-publishes report's.
  expect(timers.started).toHaveLength(5)
  expect(timers.started.filter((timer) => !timers.cleared.has(timer))).toEqual([])
})
