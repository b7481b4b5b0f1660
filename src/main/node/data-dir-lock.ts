/**
 * One headless host per data directory, as the Electron host is one instance per user: two hosts
 * writing the same `events.jsonl` and `dead-letters.jsonl` would interleave and lose records. The
 * lock is a file holding the owner's pid, created atomically; one left by a host that died is
 * taken over, one taker at a time: two hosts starting together after a crash both found the dead
 * host's lock, and the later one's removal of it removed the lock the earlier one had just taken
 * (both ran on the same folder).
 */
import { randomUUID } from 'node:crypto'
import { link, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { monotonicMs } from '../../shared/clock.js'
import { StartRefused } from '../host/start-failure.js'

const LOCK_FILE = 'host.lock'

/** Another running host holds the data directory. */
export class DataDirInUseError extends StartRefused {
  override readonly name = 'DataDirInUseError'
}

/** Whether `pid` (read from a lock file: anything at all) names a running process. */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false // 0 and below name process groups
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // alive, owned by someone else
  }
}

/**
 * The pid written in the lock file at `path` (NaN if it names none); undefined if there is no such
 * file, as when its holder gave it up or a taker removed it since it was found: nothing to take for
 * dead.
 * @throws StartRefused for a lock that cannot be read (not a file, not this user's to read): taking
 * it for a dead host's would remove what may be a running one's
 */
async function holderOf(path: string): Promise<number | undefined> {
  try {
    return Number((await readFile(path, 'utf8')).trim())
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StartRefused(
      `the lock ${path} cannot be read (${(error as Error).message}): if no Skelly-Jelly host runs, remove it`,
    )
  }
}

/** Links `staged` into place at `path`; false if something is there already. */
async function linked(staged: string, path: string): Promise<boolean> {
  try {
    await link(staged, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/** How long a host waits for another to finish taking over a dead host's lock. */
const TAKEOVER_WAIT_MS = 2000

/**
 * Removes the lock at `path` if its holder is dead, holding the lock `takeover` meanwhile: a lock
 * is removed only by the one taker that holds it, after reading again, under it, that its host is
 * dead. Without it, a taker that had read the dead host's pid removed the lock another taker had
 * put in its place since. A lock found gone is not removed: another taker, not holding `takeover`,
 * may link its own there at any moment (removing "whatever is there" once let two hosts in). A
 * takeover lock left by a taker that died is removed; one found gone is tried again.
 * @returns the pid of the running taker that holds `takeover`, if one does: wait, and try again
 */
async function removeDeadLock(path: string, takeover: string, staged: string): Promise<number | undefined> {
  if (!(await linked(staged, takeover))) {
    const taker = await holderOf(takeover)
    if (taker === undefined) return undefined
    if (isRunning(taker)) return taker
    await rm(takeover, { force: true })
    return undefined
  }
  try {
    const holder = await holderOf(path)
    if (holder !== undefined && !isRunning(holder)) await rm(path, { force: true })
  } finally {
    await rm(takeover, { force: true })
  }
  return undefined
}

/**
 * Takes `dir`'s lock for this process.
 * @returns a function that gives it up
 * @throws DataDirInUseError naming the pid of the running host that holds it, or of one that has
 * been taking over a dead host's lock for over 2 s
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  // Written whole under a name of its own (two hosts of one process each have theirs), then linked
  // into place: a reader never sees it empty.
  const staged = `${path}.${process.pid}.${randomUUID()}`
  await writeFile(staged, String(process.pid))
  const takeover = `${path}.takeover`
  const waitUntil = monotonicMs() + TAKEOVER_WAIT_MS
  try {
    for (;;) {
      if (await linked(staged, path)) return () => rm(path, { force: true })
      const holder = await holderOf(path)
      if (holder === undefined) continue // given up or removed since: link again
      if (isRunning(holder)) {
        throw new DataDirInUseError(
          `${dir} is in use by another Skelly-Jelly host (pid ${holder}): stop it, or set SKELLY_DATA_DIR ` +
            `to another folder (if no such host runs, remove ${path})`,
        )
      }
      // Its host died without giving it up.
      const taker = await removeDeadLock(path, takeover, staged)
      if (taker === undefined) continue
      if (monotonicMs() > waitUntil) {
        throw new DataDirInUseError(
          `${dir} is being taken over by another Skelly-Jelly host (pid ${taker}) for over ` +
            `${TAKEOVER_WAIT_MS / 1000} s (if no such host runs, remove ${takeover})`,
        )
      }
      await delay(10)
    }
  } finally {
    await rm(staged, { force: true })
  }
}
