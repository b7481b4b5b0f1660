/**
 * Storage's writes: an event is acknowledged once it is in `events.jsonl` (or a file it rotated
 * into), and the files keep the order events were delivered in, however the appends are grouped;
 * trouble with its files is said on the bus.
 */
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { DeliveryMode, type Envelope, ModuleId } from '../../src/main/bus/index.js'
import storage from '../../src/modules/storage.js'
import { rawMessage, waitFor } from '../helpers.js'
import { startHub } from '../hub/fixture.js'
import { attachedModule } from './attached-module.js'

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

const freshDataDir = () => mkdtemp(join(tmpdir(), 'skelly-storage-'))

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
