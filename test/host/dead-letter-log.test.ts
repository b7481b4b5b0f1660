/**
 * Durable dead letters: they survive a restart, a damaged log is recovered, never fatal, and a
 * failed write is made good by the next one, or the close; the log is compacted when its records
 * outgrow its entries, and only readable by its owner.
 */
import { appendFile, mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  createEventBus,
  type DeadLetterEntry,
  DeadLetterReason,
  DeliveryMode,
  MessageFilter,
  ModuleId,
} from '../../src/main/bus/index.js'
import { createDeadLetterLog, type DeadLetterLogOptions } from '../../src/main/host/dead-letter-log.js'
import { flushMicrotasks, rawMessage, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('dlq')

async function logPath() {
  return join(await freshDir(), 'dead-letters.jsonl')
}

/** A bus whose only subscriber always fails, so every RawEvent is dead-lettered at once. */
async function failingBus(path: string, warnings: string[] = [], compactAfter?: number) {
  const log = createDeadLetterLog({ path, warn: (w) => warnings.push(w), compactAfter })
  const bus = createEventBus({ maxRetryAttempts: 0, deadLetterPersistence: log })
  await bus.subscribe(
    ModuleId.Storage,
    MessageFilter.types(['RawEvent']),
    DeliveryMode.Reliable({ timeoutMs: 100 }),
    async () => {
      throw new Error('disk full')
    },
  )
  await bus.start()
  return { bus, log }
}

describe('durable dead letters', () => {
  it('reloads the dead letters of an earlier run, with their messages intact', async () => {
    const path = await logPath()
    const first = await failingBus(path)
    const sent = [rawMessage(1, { eventType: 'a' }), rawMessage(2, { eventType: 'b' })]
    for (const message of sent) await first.bus.publish(message)
    await waitFor(() => first.bus.deadLetters.list().length === 2)
    const before = first.bus.deadLetters.list()
    await first.bus.shutdown()
    await first.log.close()

    const second = await failingBus(path)
    expect(second.bus.deadLetters.list()).toEqual(before)
    const [entry] = second.bus.deadLetters.list()
    expect(entry?.message.timestamp).toBeInstanceOf(Date)
    expect(entry?.lastError).toBe('Error: disk full')
    await second.bus.shutdown()
    await second.log.close()
  })

  it('records replays and purges, so removed entries stay removed after a restart', async () => {
    const path = await logPath()
    const first = await failingBus(path)
    for (const name of ['a', 'b', 'c']) await first.bus.publish(rawMessage(1, { eventType: name }))
    await waitFor(() => first.bus.deadLetters.list().length === 3)
    const [a] = first.bus.deadLetters.list()
    await first.bus.deadLetters.purge([a!.id])
    // An id the queue does not hold leaves the log as it was.
    await first.bus.deadLetters.purge(['no-such-entry'])
    await first.bus.shutdown()
    await first.log.close()
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(3 + 1)
    const second = await failingBus(path)
    expect(
      second.bus.deadLetters.list().map((e) => (e.message.payload.data as { eventType: string }).eventType),
    ).toEqual(['b', 'c'])
    await second.bus.shutdown()
    await second.log.close()
  })

  it('starts quietly from a log that does not exist yet or is empty', async () => {
    for (const prepare of [async () => {}, (path: string) => writeFile(path, '')]) {
      const path = await logPath()
      await prepare(path)
      const warnings: string[] = []
      const { bus, log } = await failingBus(path, warnings)
      expect(bus.deadLetters.list()).toEqual([])
      expect(warnings).toEqual([])
      await bus.shutdown()
      await log.close()
    }
  })

  it('recovers a truncated or corrupt log up to its last good record, with a warning', async () => {
    const path = await logPath()
    const first = await failingBus(path)
    for (const name of ['a', 'b']) await first.bus.publish(rawMessage(1, { eventType: name }))
    await waitFor(() => first.bus.deadLetters.list().length === 2)
    await first.bus.shutdown()
    await first.log.close()
    await appendFile(path, '{"op":"add","entry":{"json":{"id":"half') // a crash mid-write

    const warnings: string[] = []
    const second = await failingBus(path, warnings)
    expect(second.bus.deadLetters.list()).toHaveLength(2)
    expect(warnings[0]).toMatch(/record 3 is truncated; recovered 2 entries/)
    // The damaged tail is gone: new records follow good ones.
    await second.bus.publish(rawMessage(1, { eventType: 'c' }))
    await waitFor(() => second.bus.deadLetters.list().length === 3)
    await second.bus.shutdown()
    await second.log.close()
    const lines = (await readFile(path, 'utf8')).trim().split('\n')
    expect(lines.every((l) => JSON.parse(l))).toBe(true)

    await writeFile(path, 'not json at all\n{"op":"remove","id":"x"}\n')
    const garbled: string[] = []
    const third = await failingBus(path, garbled)
    expect(third.bus.deadLetters.list()).toEqual([])
    expect(garbled[0]).toMatch(/record 1 is corrupt \(Unexpected token/)
    await third.bus.shutdown()
    await third.log.close()

    // JSON, but not a record: zod's issue is said, not the first line of its JSON dump.
    await writeFile(path, '{"op":"add","entry":{"id":"a"}}\n')
    const misshapen: string[] = []
    const fourth = await failingBus(path, misshapen)
    expect(misshapen[0]).toMatch(/record 1 is corrupt \(entry\.json: Invalid input/)
    await fourth.bus.shutdown()
    await fourth.log.close()
  })

  it('compacts the log atomically once it holds far more records than entries', async () => {
    const path = await logPath()
    const { bus, log } = await failingBus(path, [], 10)
    for (let i = 0; i < 30; i++) {
      await bus.publish(rawMessage(1, { eventType: `e${i}` }))
      await flushMicrotasks()
      await bus.deadLetters.purge()
    }
    await bus.publish(rawMessage(1, { eventType: 'kept' }))
    await waitFor(() => bus.deadLetters.list().length === 1)
    await log.flush()
    const lines = (await readFile(path, 'utf8')).trim().split('\n')
    expect(lines.length).toBeLessThanOrEqual(12)
    await bus.shutdown()
    await log.close()
    const again = await failingBus(path)
    expect(
      again.bus.deadLetters.list().map((e) => (e.message.payload.data as { eventType: string }).eventType),
    ).toEqual(['kept'])
    await again.bus.shutdown()
    await again.log.close()
  })

  it('rewrites the log after a failed write, so the entries it missed survive a restart', async () => {
    const path = await logPath()
    const warnings: string[] = []
    const first = await failingBus(path, warnings)
    const eventTypes = (bus: typeof first.bus) =>
      bus.deadLetters.list().map((e) => (e.message.payload.data as { eventType: string }).eventType)
    await mkdir(path) // a folder where the log should be: its writes fail
    await first.bus.publish(rawMessage(1, { eventType: 'missed' }))
    await waitFor(() => first.bus.deadLetters.list().length === 1)
    await first.log.flush()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/write failed: .*EISDIR.*; the next write rewrites it from the entries held$/)

    await rmdir(path)
    await first.bus.publish(rawMessage(1, { eventType: 'after' }))
    await waitFor(() => first.bus.deadLetters.list().length === 2)
    await first.log.flush()
    expect(warnings[1]).toMatch(/rewritten with the 2 entries held after a failed write$/)
    await first.bus.shutdown()
    await first.log.close()

    const second = await failingBus(path, warnings)
    expect(eventTypes(second.bus)).toEqual(['missed', 'after'])
    expect(warnings).toHaveLength(2) // nothing to recover
    await second.bus.shutdown()
    await second.log.close()
  })
})

/** A dead-letter entry named `id`, as the bus would record one. */
function entry(id: string): DeadLetterEntry {
  return {
    id,
    message: rawMessage(),
    subscriptionId: 'sub-1',
    module: ModuleId.Storage,
    reason: DeadLetterReason.MaxRetriesExceeded,
    attempts: 1,
    firstFailedAt: new Date(),
    lastFailedAt: new Date(),
  }
}

/** The number of records (lines) in the log at `path`. */
async function recordsIn(path: string): Promise<number> {
  return (await readFile(path, 'utf8')).split('\n').length - 1
}

/** A fresh log at `path` with `options`, loaded. */
async function loadedLog(path: string, options: Omit<DeadLetterLogOptions, 'path'> = {}) {
  const log = createDeadLetterLog({ path, ...options })
  await log.load()
  return log
}

/** The ids of the entries a log at `path` loads now. */
async function idsLoadedFrom(path: string): Promise<string[]> {
  const log = createDeadLetterLog({ path })
  const ids = (await log.load()).map((e) => e.id)
  await log.close()
  return ids
}

describe('the dead-letter log', () => {
  it('compacts once its records pass both compactAfter and twice its entries, counting those an earlier run left', async () => {
    const path = await logPath()
    const first = await loadedLog(path, { compactAfter: 6 })
    for (const id of ['a', 'b', 'c', 'd']) first.added(entry(id))
    for (const id of ['a', 'b']) first.removed(id)
    await first.close()
    expect(await recordsIn(path)).toBe(6)

    const second = createDeadLetterLog({ path, compactAfter: 6 })
    expect((await second.load()).map((e) => e.id)).toEqual(['c', 'd'])
    second.added(entry('e')) // 7 records, over 6 and over twice the 3 entries: compacted
    await second.flush()
    expect(await recordsIn(path)).toBe(3)
    for (const id of ['f', 'g', 'h', 'i']) {
      second.added(entry(id))
      await second.flush()
    }
    // 7 records for 7 entries: under twice the entries, so kept as they are.
    expect(await recordsIn(path)).toBe(7)
    for (const id of ['c', 'd', 'e', 'f', 'g', 'h']) {
      second.removed(id)
      await second.flush()
    }
    // The 13th record (over 6, and over twice the one entry left) compacts it again.
    expect(await recordsIn(path)).toBe(1)
    await second.close()
  })

  it('compacts nothing under 1,000 records unless told otherwise', async () => {
    const path = await logPath()
    const log = await loadedLog(path)
    for (let i = 0; i < 50; i++) log.removed(`gone-${i}`)
    await log.close()
    expect(await recordsIn(path)).toBe(50)
  })

  it('has written what it was given once flush or close resolves', async () => {
    const path = await logPath()
    const log = await loadedLog(path)
    log.added(entry('a'))
    await log.flush()
    expect(await recordsIn(path)).toBe(1)
    log.added(entry('b'))
    await log.close()
    expect(await idsLoadedFrom(path)).toEqual(['a', 'b'])
  })

  it('keeps its file readable by its owner alone, after a compaction too', async () => {
    const path = await logPath()
    const log = await loadedLog(path, { compactAfter: 2 })
    log.added(entry('a'))
    await log.flush()
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    for (const id of ['b', 'c']) log.removed(id)
    await log.close()
    expect(await recordsIn(path)).toBe(1) // compacted: the file was written anew
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('takes a record whose entry is not a dead letter for corrupt, and recovers the records before it', async () => {
    const path = await logPath()
    const first = await loadedLog(path)
    first.added(entry('a'))
    await first.close()
    await appendFile(path, '{"op":"add","entry":{"json":{"id":"b"}}}\n{"op":"remove","id":"a"}\n')
    const warnings: string[] = []
    const second = createDeadLetterLog({ path, warn: (warning) => warnings.push(warning) })
    expect((await second.load()).map((e) => e.id)).toEqual(['a'])
    expect(warnings).toEqual([
      expect.stringMatching(/record 2 is corrupt \(message: Invalid input\); recovered 1 entries/),
    ])
    await second.close()
  })

  it('refuses to load a log it cannot read, rather than start over it', async () => {
    const path = await logPath()
    await mkdir(path)
    await expect(createDeadLetterLog({ path }).load()).rejects.toThrow(/EISDIR/)
  })

  it('says a failed write once until it is made good, and the close makes it good', async () => {
    const path = await logPath()
    const warnings: string[] = []
    const log = await loadedLog(path, { warn: (warning) => warnings.push(warning) })
    await mkdir(path) // a folder where the log should be: its writes fail
    log.added(entry('a'))
    await log.flush()
    log.added(entry('b')) // a rewrite, which fails as well
    await log.flush()
    expect(warnings).toEqual([expect.stringMatching(/write failed: .*EISDIR/)])
    await rmdir(path)
    await log.close()
    expect(warnings[1]).toMatch(/rewritten with the 2 entries held after a failed write$/)
    expect(await idsLoadedFrom(path)).toEqual(['a', 'b'])
  })
})
