/**
 * Durable dead letters: an append-only log of JSON lines (superjson, so Dates and Maps survive)
 * in the app's data folder, fsync'd per batch, compacted atomically (write a temporary file, fsync,
 * rename) once it holds far more records than live entries. A corrupt or truncated file is
 * recovered up to its last good record, with a warning, never a crash. A write that fails (a full
 * disk) may leave a cut-off record, which would hide every record after it at the next load, and
 * misses its own records: the next write, or the close, rewrites the log from the entries held.
 */
import { type FileHandle, open, readFile, rename } from 'node:fs/promises'
import superjson from 'superjson'
import { z } from 'zod'
import { issueAt } from '../../shared/errors.js'
import type { DeadLetterPersistence } from '../bus/dead-letters.js'
import { type DeadLetterEntry, deadLetterEntrySchema } from '../bus/index.js'

const recordSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), entry: z.object({ json: z.unknown(), meta: z.unknown().optional() }) }),
  z.object({ op: z.literal('remove'), id: z.string() }),
])

export interface DeadLetterLogOptions {
  path: string
  /** Where recovery warnings go (default: console.warn). */
  warn?: (message: string) => void
  /** Records beyond which the log is compacted (at least this many, and twice the live entries). */
  compactAfter?: number
}

export interface DeadLetterLog extends DeadLetterPersistence {
  close(): Promise<void>
}

function line(record: z.infer<typeof recordSchema> | { op: 'add'; entry: unknown }): string {
  return `${JSON.stringify(record)}\n`
}

function addRecord(entry: DeadLetterEntry): string {
  return line({ op: 'add', entry: superjson.serialize(entry) })
}

/** Why a record could not be read, in one short line: zod's first issue, or the parser's words. */
function whatIsWrong(error: unknown): string {
  // A ZodError's message is its issues as pretty-printed JSON: its first line says nothing.
  if (error instanceof z.ZodError) return issueAt(error, 'the record')
  return (error as Error).message.split('\n')[0]?.slice(0, 120) ?? 'unreadable'
}

/** Parses the log up to its first bad record; says what was wrong there, if anything. */
function parse(text: string): { entries: Map<string, DeadLetterEntry>; records: number; problem?: string } {
  const entries = new Map<string, DeadLetterEntry>()
  // A log that does not exist yet, or holds nothing, is simply empty.
  if (text === '') return { entries, records: 0 }
  const lines = text.split('\n')
  const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines
  let records = 0
  for (const [index, raw] of complete.entries()) {
    const where = `record ${index + 1}`
    if (index === complete.length - 1 && !text.endsWith('\n'))
      return { entries, records, problem: `${where} is truncated` }
    try {
      const record = recordSchema.parse(JSON.parse(raw))
      if (record.op === 'remove') entries.delete(record.id)
      else {
        const entry = deadLetterEntrySchema.parse(superjson.deserialize(record.entry as never))
        entries.set(entry.id, entry)
      }
      records++
    } catch (error) {
      return {
        entries,
        records,
        problem: `${where} is corrupt (${whatIsWrong(error)})`,
      }
    }
  }
  return { entries, records }
}

export function createDeadLetterLog(options: DeadLetterLogOptions): DeadLetterLog {
  const warn = options.warn ?? ((message: string) => console.warn(message))
  const compactAfter = options.compactAfter ?? 1000
  /** Live entries, mirrored so compaction can rewrite them. */
  let live = new Map<string, DeadLetterEntry>()
  let records = 0
  let handle: FileHandle | undefined
  let queued: string[] = []
  let writing: Promise<void> = Promise.resolve()
  /** A write failed: the file may not hold what `live` does until it is rewritten. */
  let damaged = false

  async function rewrite(): Promise<void> {
    const temporary = `${options.path}.tmp`
    const file = await open(temporary, 'w', 0o600)
    await file.writeFile([...live.values()].map(addRecord).join(''))
    await file.sync()
    await file.close()
    await handle?.close()
    handle = undefined
    await rename(temporary, options.path)
    handle = await open(options.path, 'a', 0o600)
    records = live.size
  }

  function write(record: string): void {
    queued.push(record)
    if (queued.length > 1) return
    writing = writing
      .then(async () => {
        const batch = queued
        queued = []
        if (damaged) return await heal() // the rewrite holds this batch's changes too
        handle ??= await open(options.path, 'a', 0o600)
        await handle.appendFile(batch.join(''))
        await handle.sync()
        records += batch.length
        if (records > Math.max(compactAfter, live.size * 2)) await rewrite()
      })
      // A failed write is reported and the chain goes on, so later records are still written.
      .catch(reportFailure)
  }

  function reportFailure(error: unknown): void {
    if (!damaged)
      warn(
        `dead-letter log ${options.path}: write failed: ${(error as Error).message}; the next write rewrites it from the entries held`,
      )
    damaged = true
  }

  async function heal(): Promise<void> {
    await rewrite()
    damaged = false
    warn(`dead-letter log ${options.path}: rewritten with the ${live.size} entries held after a failed write`)
  }

  return {
    async load() {
      const text = await readFile(options.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return ''
        throw error
      })
      const parsed = parse(text)
      live = parsed.entries
      records = parsed.records
      if (parsed.problem !== undefined) {
        warn(
          `dead-letter log ${options.path}: ${parsed.problem}; recovered ${live.size} entries from the ${parsed.records} good records before it, the rest is discarded`,
        )
        await rewrite()
      }
      return [...live.values()]
    },
    added(entry) {
      live.set(entry.id, entry)
      write(addRecord(entry))
    },
    removed(id) {
      live.delete(id)
      write(line({ op: 'remove', id }))
    },
    async flush() {
      await writing
    },
    async close() {
      await writing
      if (damaged) await heal().catch(reportFailure)
      await handle?.close()
      handle = undefined
    },
  }
}
