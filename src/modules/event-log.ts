/**
 * An append-only file that rotates at a size, so a log written all day, every day, keeps a bounded
 * footprint: once the current file reaches `maxFileBytes`, it becomes `<name>.1<ext>` (the older
 * ones move up a number), a fresh file takes its place, and files past `keepFiles` are deleted.
 * Its caller serializes the calls (one at a time); the log itself keeps no queue.
 *
 * The log holds lines, and each append starts on a line of its own: a file that ends mid-line (the
 * process died in the middle of a write, or a write failed part-way) gets a line break before the
 * next text, so the cut-off line costs itself only, not the whole line appended after it.
 */
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises'
import { join, parse } from 'node:path'
import { describeThrown } from '../shared/errors.js'

export interface EventLogOptions {
  /** The folder that holds the log. */
  readonly dir: string
  /** The current file's name, e.g. `events.jsonl`. */
  readonly name: string
  /** The size at which the current file is rotated (the append that crosses it stays in it). */
  readonly maxFileBytes: number
  /** Rotated files kept besides the current one; older ones are deleted. */
  readonly keepFiles: number
  /**
   * Told when a rotation fails (once, until one succeeds again; the log goes on in the current
   * file) and when the current file ends in a cut-off line.
   */
  readonly warn: (message: string) => void
}

export interface EventLog {
  /**
   * Appends `lines` (whole lines, each ending in a line break) to the current file, starting on a
   * line of its own, then rotates the file if it reached `maxFileBytes`. Resolves once `lines` are
   * written; a rotation that fails is only reported (the lines are written all the same, and the
   * next append tries again).
   */
  append(lines: string): Promise<void>
  /** Flushes the current file to disk. */
  sync(): Promise<void>
  /**
   * Takes new limits: the current file rotates at the next append that finds it at
   * `maxFileBytes` or more, and rotated files past `keepFiles` are deleted now. Called in turn with
   * the appends, as they are. Rejects with the error of a file it could not delete; the new
   * limits hold all the same, and the size counts the files kept.
   */
  setLimits(limits: Pick<EventLogOptions, 'maxFileBytes' | 'keepFiles'>): Promise<void>
  /** The bytes the log holds on disk, the current file and the rotated ones kept. */
  readonly sizeBytes: number
  /** Flushes and closes the current file. */
  close(): Promise<void>
}

async function sizeOf(path: string): Promise<number> {
  try {
    const found = await stat(path)
    return found.isFile() ? found.size : 0
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
}

/** Whether the `size` bytes of `file` end in something other than a line break. */
async function endsMidLine(file: FileHandle, size: number): Promise<boolean> {
  if (size === 0) return false
  const { buffer } = await file.read(Buffer.alloc(1), 0, 1, size - 1)
  return buffer[0] !== 0x0a
}

/** Opens (creating if need be) the log in `options.dir`, counting the rotated files already there. */
export async function openEventLog(options: EventLogOptions): Promise<EventLog> {
  const { dir, name, warn } = options
  let { maxFileBytes, keepFiles } = options
  const { name: stem, ext } = parse(name)
  /** The path of rotated file `n` (0 is the current file). */
  const pathOf = (n: number): string => join(dir, n === 0 ? name : `${stem}.${n}${ext}`)
  /** Sizes of the files on disk, index n for `pathOf(n)`. */
  let sizes: number[] = []
  const countSizes = async (): Promise<void> => {
    sizes = []
    for (let n = 0; n <= keepFiles; n++) sizes.push(await sizeOf(pathOf(n)))
  }
  await countSizes()
  // 'a+': appends, and reads the current file's last byte.
  let file: FileHandle = await open(pathOf(0), 'a+')
  /** Whether the current file ends in a cut-off line, so the next append must start a new one. */
  let midLine = false
  /** Reads the current file's size and whether it ends mid-line from the disk. */
  const readCurrentFile = async (): Promise<void> => {
    const { size } = await file.stat()
    sizes[0] = size
    midLine = await endsMidLine(file, size)
  }
  await readCurrentFile()
  if (midLine)
    warn(`${name} ends in a cut-off line (a write was interrupted); the next one starts a new line`)

  /**
   * Moves every file up a number, dropping the oldest, and starts a fresh current file. Whatever
   * fails on the way, a current file is open again afterwards and the sizes are read from disk.
   */
  async function rotate(): Promise<void> {
    await file.sync()
    await file.close()
    try {
      await rm(pathOf(keepFiles), { force: true })
      for (let n = keepFiles - 1; n >= 0; n--) {
        await rename(pathOf(n), pathOf(n + 1)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error // a rotated file not there yet
        })
      }
    } finally {
      // Still the old file if it could not move; it ends in a line break either way, since the
      // append that led here wrote whole lines.
      file = await open(pathOf(0), 'a+')
      await countSizes()
    }
  }

  let rotationFailing = false
  return {
    async append(lines) {
      const text = midLine ? `\n${lines}` : lines
      try {
        await file.appendFile(text)
      } catch (error) {
        // Part of the text may be on disk: learn how much, and whether it ends mid-line. If even
        // that fails, the next append starts a new line: at worst the log gets one empty line.
        midLine = true
        await readCurrentFile().catch(() => {})
        throw error
      }
      midLine = false
      sizes[0] = (sizes[0] ?? 0) + Buffer.byteLength(text)
      if ((sizes[0] ?? 0) < maxFileBytes) return
      try {
        await rotate()
        rotationFailing = false
      } catch (error) {
        if (!rotationFailing) warn(`could not rotate ${name}, writing on in it: ${describeThrown(error)}`)
        rotationFailing = true
      }
    },
    sync: () => file.sync(),
    async setLimits(limits) {
      const kept = keepFiles
      maxFileBytes = limits.maxFileBytes
      keepFiles = limits.keepFiles
      try {
        for (let n = keepFiles + 1; n <= kept; n++) await rm(pathOf(n), { force: true })
      } finally {
        await countSizes() // of the files kept now, whatever could not be deleted
      }
    },
    get sizeBytes() {
      return sizes.reduce((sum, size) => sum + size, 0)
    },
    async close() {
      await file.sync()
      await file.close()
    },
  }
}
