/**
 * One headless host per data directory, as the Electron host is one instance per user: two hosts
 * writing the same `events.jsonl` and `dead-letters.jsonl` would interleave and lose records. The
 * lock is a file holding the owner's pid, created atomically; one left by a host that died is
 * taken over, one taker at a time: two hosts starting together after a crash both found the dead
 * host's lock, and the later one's removal of it removed the lock the earlier one had just taken
 * (both ran on the same folder).
 *
 * Takers take turns under a takeover lock named after the dead lock's content, and a takeover lock
 * left by a taker that died is never removed while takers may act on it: the next taker takes a
 * takeover lock one level deeper, named after the dead taker too. Removing a dead taker's takeover
 * lock (as this once did) raced with a taker that had just put its own in its place; the file
 * system has no compare-and-delete to remove "the dead one's" only. What is left behind is removed
 * by the host that gets the lock, when no taker can act on it any more.
 */
import { createHash, randomUUID } from 'node:crypto'
import { link, readdir, readFile, rm, writeFile } from 'node:fs/promises'
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
 * The text of the lock file at `path`, trimmed; undefined if there is no such file, as when its
 * holder gave it up or a taker removed it since it was found: nothing to take for dead.
 * @throws StartRefused for a lock that cannot be read (not a file, not this user's to read): taking
 * it for a dead host's would remove what may be a running one's
 */
async function lockText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StartRefused(
      `the lock ${path} cannot be read (${(error as Error).message}): if no Skelly-Jelly host runs, remove it`,
    )
  }
}

/** A lock's content as part of a file name: a pid as it is, anything else as a short digest. */
function nameOf(text: string): string {
  return /^[0-9]{1,10}$/.test(text)
    ? text
    : `x${createHash('sha256').update(text).digest('hex').slice(0, 12)}`
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
 * Removes the lock at `path` if it still holds `dead` (the text of a lock whose host is dead),
 * holding a takeover lock meanwhile: `path.takeover.<dead>`, or, where a taker died holding that,
 * the one a level deeper named after it too. A lock is removed only by the one live taker of its
 * chain, after reading again, under it, that it still holds `dead`: nothing else can have replaced
 * it since (only a taker of its chain removes it, and nothing is linked over a file that is there).
 * A takeover lock found gone is not taken for a dead taker's; this taker looks at `path` again.
 * @returns the pid of the running taker that holds the takeover lock, and its file, if one does:
 * wait, and try again
 */
async function removeDeadLock(
  path: string,
  dead: string,
  staged: string,
): Promise<{ taker: number; takeover: string } | undefined> {
  let takeover = `${path}.takeover.${nameOf(dead)}`
  for (;;) {
    if (await linked(staged, takeover)) {
      try {
        if ((await lockText(path)) === dead) await rm(path, { force: true })
      } finally {
        await rm(takeover, { force: true })
      }
      return undefined
    }
    const text = await lockText(takeover)
    if (text === undefined) return undefined
    const taker = Number(text)
    if (isRunning(taker)) return { taker, takeover }
    takeover = `${takeover}.${nameOf(text)}`
  }
}

/**
 * Removes the takeover locks left in `dir` by takers that died. Run by the host holding the lock:
 * a taker still at work reads the lock again under its takeover lock, finds this host's and
 * removes nothing, whether its takeover lock is there or not.
 */
async function removeTakeoverLocks(dir: string): Promise<void> {
  const prefix = `${LOCK_FILE}.takeover.`
  const left = (await readdir(dir)).filter((name) => name.startsWith(prefix))
  await Promise.all(left.map((name) => rm(join(dir, name), { force: true })))
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
  const waitUntil = monotonicMs() + TAKEOVER_WAIT_MS
  try {
    for (;;) {
      if (await linked(staged, path)) {
        await removeTakeoverLocks(dir)
        return () => rm(path, { force: true })
      }
      const text = await lockText(path)
      if (text === undefined) continue // given up or removed since: link again
      const holder = Number(text)
      if (isRunning(holder)) {
        throw new DataDirInUseError(
          `${dir} is in use by another Skelly-Jelly host (pid ${holder}): stop it, or set SKELLY_DATA_DIR ` +
            `to another folder (if no such host runs, remove ${path})`,
        )
      }
      // Its host died without giving it up.
      const busy = await removeDeadLock(path, text, staged)
      if (busy === undefined) continue
      if (monotonicMs() > waitUntil) {
        throw new DataDirInUseError(
          `${dir} is being taken over by another Skelly-Jelly host (pid ${busy.taker}) for over ` +
            `${TAKEOVER_WAIT_MS / 1000} s (if no such host runs, remove ${busy.takeover})`,
        )
      }
      await delay(10)
    }
  } finally {
    await rm(staged, { force: true })
  }
}
