/**
 * The data folder's lock at the moments other takers act between two of this taker's steps: the
 * file system is the real one, with another taker's step run just before or after one of this
 * taker's reads (the three-thread race in host-start.test.ts finds these by chance, seldom).
 */
import { spawnSync } from 'node:child_process'
import { link, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DataDirInUseError, lockDataDir } from '../../src/main/node/data-dir-lock.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'

/** Run around the `n`th read (from 1) of a file named `name`, then forgotten. */
interface AroundRead {
  name: string
  n: number
  before?: () => Promise<void>
  after?: () => Promise<void>
}
const arounds: AroundRead[] = []
const readsOf = new Map<string, number>()

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const readFileAround = async (...args: Parameters<typeof real.readFile>) => {
    const name = String(args[0]).split('/').pop() ?? ''
    const n = (readsOf.get(name) ?? 0) + 1
    readsOf.set(name, n)
    const around = arounds.find((entry) => entry.name === name && entry.n === n)
    await around?.before?.()
    try {
      return await real.readFile(...args)
    } finally {
      await around?.after?.()
    }
  }
  return { ...real, readFile: readFileAround }
})

afterEach(() => {
  arounds.length = 0
  readsOf.clear()
})

const freshDir = tempDirsRemovedAfterAll('lock')
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid

/** Another host (this process, so running) linking its lock into place at `path`, as a taker does. */
async function anotherHostLinks(path: string): Promise<void> {
  const staged = `${path}.other`
  await writeFile(staged, String(process.pid))
  await link(staged, path)
  await rm(staged)
}

describe('the data folder’s lock, another taker acting between two steps', () => {
  it('leaves alone a lock another host linked after this taker found the dead one gone', async () => {
    const dir = await freshDir()
    const path = join(dir, 'host.lock')
    await writeFile(path, String(deadPid()))
    // Under the takeover lock, the second read finds the dead host's lock removed (by a taker
    // before) and, just after, another host links its own, as it may without the takeover lock.
    arounds.push({
      name: 'host.lock',
      n: 2,
      before: () => rm(path),
      after: () => anotherHostLinks(path),
    })
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirInUseError)
    expect(await readFile(path, 'utf8')).toBe(String(process.pid))
    expect(await readdir(dir)).toEqual(['host.lock'])
  })

  it('takes the lock when the one it found is given up before it reads it', async () => {
    const dir = await freshDir()
    const path = join(dir, 'host.lock')
    await writeFile(path, String(process.pid))
    arounds.push({ name: 'host.lock', n: 1, before: () => rm(path) })
    const unlock = await lockDataDir(dir)
    expect(await readdir(dir)).toEqual(['host.lock'])
    await unlock()
    expect(await readdir(dir)).toEqual([])
  })

  it('does not take for dead a takeover lock found gone: another taker may hold it by the time it would be removed', async () => {
    const dir = await freshDir()
    const path = join(dir, 'host.lock')
    const dead = deadPid()
    const takeoverName = `host.lock.takeover.${dead}`
    const takeover = join(dir, takeoverName)
    await writeFile(path, String(dead))
    await writeFile(takeover, String(process.pid)) // a taker at work, which gives up as it is read
    const held = `${path}.held`
    arounds.push(
      {
        name: takeoverName,
        n: 1,
        before: () => rm(takeover),
        // Just after, another taker links the takeover lock…
        after: async () => {
          await writeFile(held, String(process.pid))
          await link(held, takeover)
          await rm(held)
        },
      },
      {
        // …and, as this taker looks again (having found it held, and waited), has taken the dead
        // lock over. Done while this taker waits on its read, not on a timer: a taker linking
        // between the other's removal of the dead lock and its link would win, rightly, and the
        // test would depend on which came first.
        name: takeoverName,
        n: 3,
        before: async () => {
          await rm(path)
          await anotherHostLinks(path)
          await rm(takeover)
        },
      },
    )
    // Had it taken the takeover lock it found gone for a dead taker's, it would have removed the
    // other's and taken the lock, which the other, still taking over as it believes, would then
    // remove as the dead host's: two hosts.
    await expect(lockDataDir(dir)).rejects.toThrow(/in use by another Skelly-Jelly host/)
    expect(readsOf.get(takeoverName)).toBe(3)
    expect(await readdir(dir)).toEqual(['host.lock'])
  })

  it('never removes a dead taker’s takeover lock another taker may have replaced: the next taker goes a level deeper', async () => {
    const dir = await freshDir()
    const path = join(dir, 'host.lock')
    const dead = deadPid()
    const deadTaker = deadPid()
    // A host died holding the lock, and a taker died taking it over.
    const firstLevel = `host.lock.takeover.${dead}`
    const secondLevel = `${firstLevel}.${deadTaker}`
    await writeFile(path, String(dead))
    await writeFile(join(dir, firstLevel), String(deadTaker))
    arounds.push(
      {
        // As this taker reads the dead taker's pid, another taker (alive) has taken the next level.
        name: firstLevel,
        n: 1,
        after: () => writeFile(join(dir, secondLevel), String(process.pid)),
      },
      {
        // Found held, as this taker reads who holds it: the other has taken the dead host's lock
        // over by then and gives the takeover lock up.
        name: secondLevel,
        n: 1,
        before: async () => {
          await rm(path)
          await anotherHostLinks(path)
          await rm(join(dir, secondLevel))
        },
      },
    )
    // Removing the dead taker's takeover lock could remove one another taker had just put in its
    // place: two takers at once, the later removing the earlier's new lock as the dead host's.
    await expect(lockDataDir(dir)).rejects.toThrow(/in use by another Skelly-Jelly host/)
    expect(await readFile(path, 'utf8')).toBe(String(process.pid))
    expect((await readdir(dir)).sort()).toEqual(['host.lock', firstLevel])
  })
})
