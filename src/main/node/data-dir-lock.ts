/**
 * One headless host per data directory, as the Electron host is one instance per user: two hosts
 * writing the same `events.jsonl` and `dead-letters.jsonl` would interleave and lose records. The
 * lock is a file holding the owner's pid, created atomically; one left by a host that died is
 * taken over.
 */
import { randomUUID } from 'node:crypto'
import { link, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StartRefused } from '../host/start-failure.js'

const LOCK_FILE = 'host.lock'

/** Another running host holds the data directory. */
export class DataDirInUseError extends StartRefused {
  override readonly name = 'DataDirInUseError'
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // alive, owned by someone else
  }
}

/**
 * Takes `dir`'s lock for this process.
 * @returns a function that gives it up
 * @throws DataDirInUseError naming the pid of the running host that holds it
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  // Written whole under a name of its own (two hosts of one process each have theirs), then linked
  // into place: a reader never sees it empty.
  const staged = `${path}.${process.pid}.${randomUUID()}`
  await writeFile(staged, String(process.pid))
  try {
    for (;;) {
      try {
        await link(staged, path)
        return () => rm(path, { force: true })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
        throw new DataDirInUseError(
          `${dir} is in use by another Skelly-Jelly host (pid ${holder}): stop it, or set SKELLY_DATA_DIR ` +
            `to another folder (if no such host runs, remove ${path})`,
        )
      }
      await rm(path, { force: true }) // its host died without giving it up
    }
  } finally {
    await rm(staged, { force: true })
  }
}
