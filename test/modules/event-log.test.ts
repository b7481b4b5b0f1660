/**
 * The rotating event log: bounded on disk, nothing lost among the files it keeps, a failed
 * rotation costs one append its error, not the log, and a line cut off costs itself only.
 */
import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type EventLogOptions, openEventLog } from '../../src/modules/event-log.js'
import { paddedLine } from '../fixtures/event-log-file-limit.js'
import { tempDirsRemovedAfterAll } from '../helpers.js'

const freshDir = tempDirsRemovedAfterAll('event-log')

function options(dir: string, maxFileBytes: number, keepFiles: number): EventLogOptions {
  return {
    dir,
    name: 'events.jsonl',
    maxFileBytes,
    keepFiles,
    warn: (message) => expect.unreachable(`no rotation should fail here: ${message}`),
  }
}

/** The kept files' texts, oldest first, and their total size on disk. */
async function kept(
  dir: string,
  keepFiles: number,
): Promise<{ text: string; bytes: number; files: string[] }> {
  const files = (await readdir(dir)).sort()
  let text = ''
  let bytes = 0
  for (let n = keepFiles; n >= 0; n--) {
    const path = join(dir, n === 0 ? 'events.jsonl' : `events.${n}.jsonl`)
    if (!files.includes(path.slice(dir.length + 1))) continue
    text += await readFile(path, 'utf8')
    bytes += (await stat(path)).size
  }
  return { text, bytes, files }
}

/** The text of each file in `dir` by name (folders left out). */
async function fileTexts(dir: string): Promise<Record<string, string>> {
  const texts: Record<string, string> = {}
  for (const entry of await readdir(dir, { withFileTypes: true }))
    if (entry.isFile()) texts[entry.name] = await readFile(join(dir, entry.name), 'utf8')
  return texts
}

describe('openEventLog', () => {
  it('rotates the current file once it reaches maxFileBytes, keeping keepFiles rotated files', async () => {
    const dir = await freshDir()
    const log = await openEventLog(options(dir, 10, 2))
    for (const line of ['aaaa\n', 'bbbb\n', 'cccc\n', 'dddd\n', 'eeee\n', 'ffff\n', 'gggg\n'])
      await log.append(line)
    await log.close()
    expect(await fileTexts(dir)).toEqual({
      'events.2.jsonl': 'cccc\ndddd\n',
      'events.1.jsonl': 'eeee\nffff\n',
      'events.jsonl': 'gggg\n',
    })
    expect(log.sizeBytes).toBe(25)
  })

  it('takes new limits while it runs: fewer files kept at once, a smaller file at the next append', async () => {
    const dir = await freshDir()
    const log = await openEventLog(options(dir, 10, 3))
    for (const line of ['aaaa\n', 'bbbb\n', 'cccc\n', 'dddd\n', 'eeee\n', 'ffff\n', 'gggg\n'])
      await log.append(line)
    expect((await readdir(dir)).sort()).toEqual([
      'events.1.jsonl',
      'events.2.jsonl',
      'events.3.jsonl',
      'events.jsonl',
    ])

    await log.setLimits({ maxFileBytes: 10, keepFiles: 1 })
    expect((await readdir(dir)).sort()).toEqual(['events.1.jsonl', 'events.jsonl'])
    expect(log.sizeBytes).toBe(15) // 'eeee ffff' and 'gggg', no longer the files deleted

    // The current file, 5 bytes, is at a new limit of 4: the next append rotates it.
    await log.setLimits({ maxFileBytes: 4, keepFiles: 2 })
    await log.append('hhhh\n')
    await log.close()
    expect(await fileTexts(dir)).toEqual({
      'events.2.jsonl': 'eeee\nffff\n',
      'events.1.jsonl': 'gggg\nhhhh\n',
      'events.jsonl': '',
    })
  })

  it('says which file it could not delete for new limits, and goes on under them', async () => {
    const dir = await freshDir()
    const log = await openEventLog(options(dir, 5, 3))
    for (const line of ['aaaa\n', 'bbbb\n']) await log.append(line)
    await mkdir(join(dir, 'events.3.jsonl')) // a folder where a rotated file would be
    await expect(log.setLimits({ maxFileBytes: 5, keepFiles: 1 })).rejects.toThrow(/events\.3\.jsonl/)
    expect(log.sizeBytes).toBe(5) // the files kept: 'bbbb' rotated, and the current one, empty
    await log.append('cccc\n')
    await log.close()
    expect(await fileTexts(dir)).toEqual({ 'events.1.jsonl': 'cccc\n', 'events.jsonl': '' })
    expect((await stat(join(dir, 'events.3.jsonl'))).isDirectory()).toBe(true) // left as it was
  })

  it('counts the files a previous run left, and goes on rotating them', async () => {
    const dir = await freshDir()
    const first = await openEventLog(options(dir, 10, 3))
    for (const line of ['aaaa\n', 'bbbb\n', 'cccc\n']) await first.append(line)
    await first.close()
    const second = await openEventLog(options(dir, 10, 3))
    expect(second.sizeBytes).toBe(15)
    await second.append('dddd\n')
    await second.close()
    expect(await fileTexts(dir)).toEqual({
      'events.2.jsonl': 'aaaa\nbbbb\n',
      'events.1.jsonl': 'cccc\ndddd\n',
      'events.jsonl': '',
    })
  })

  it('keeps what it holds bounded, whole and in order, whatever is appended', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Each append is whole lines, as the log takes them.
        fc.array(
          fc
            .array(fc.string({ maxLength: 20, unit: 'grapheme' }), { minLength: 1, maxLength: 3 })
            .map((lines) => lines.map((line) => `${line.replaceAll('\n', ' ')}\n`).join('')),
          { maxLength: 60, size: 'max' },
        ),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 4 }),
        async (appends, maxFileBytes, keepFiles) => {
          const dir = await freshDir()
          const log = await openEventLog(options(dir, maxFileBytes, keepFiles))
          for (const text of appends) await log.append(text)
          const { text, bytes, files } = await kept(dir, keepFiles)
          await log.close()
          expect(files.length).toBeLessThanOrEqual(keepFiles + 1)
          expect(log.sizeBytes).toBe(bytes)
          // What is kept is the end of everything appended, starting at an append's beginning.
          const fromEachAppend = appends.map((_, i) => appends.slice(i).join(''))
          expect(text === '' || fromEachAppend.includes(text)).toBe(true)
          // Every rotated file reached the bound; the current one is below it.
          expect(Buffer.byteLength(await readFile(join(dir, 'events.jsonl'), 'utf8'))).toBeLessThan(
            maxFileBytes,
          )
          for (let n = 1; n <= keepFiles; n++) {
            const name = `events.${n}.jsonl`
            if (files.includes(name))
              expect((await stat(join(dir, name))).size).toBeGreaterThanOrEqual(maxFileBytes)
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  it('says once that it cannot rotate, goes on in the current file, and rotates once it can', async () => {
    const dir = await freshDir()
    const blocker = join(dir, 'events.1.jsonl')
    await mkdir(blocker) // a folder where the rotated file should go
    const warnings: string[] = []
    const log = await openEventLog({ ...options(dir, 10, 1), warn: (message) => warnings.push(message) })
    for (const line of ['aaaa\n', 'bbbb\n', 'cccc\n']) await log.append(line)
    expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toBe('aaaa\nbbbb\ncccc\n')
    expect(log.sizeBytes).toBe(15)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^could not rotate events\.jsonl, writing on in it: .*EISDIR/)

    await rmdir(blocker)
    await log.append('dddd\n')
    expect(await readFile(blocker, 'utf8')).toBe('aaaa\nbbbb\ncccc\ndddd\n')
    expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toBe('')
    expect(warnings).toHaveLength(1)

    // Failing again after it could, it says so again.
    await rm(blocker)
    await mkdir(blocker)
    for (const line of ['eeee\n', 'ffff\n']) await log.append(line)
    await log.close()
    expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toBe('eeee\nffff\n')
    expect(warnings).toHaveLength(2)
  })

  it('counts what a write cut short left on disk, and the next run starts a new line after it', async () => {
    const dir = await freshDir()
    const fixture = join(import.meta.dirname, '../fixtures/event-log-file-limit.ts')
    // The child may write at most 1 KiB to a file: its second 600-byte line stops part-way.
    const { stdout } = await promisify(execFile)('bash', [
      '-c',
      'ulimit -f 1 && exec "$@"',
      'bash',
      process.execPath,
      '--import',
      'tsx',
      fixture,
      dir,
    ])
    expect(JSON.parse(stdout)).toEqual({ outcomes: ['written', 'EFBIG'], sizeBytes: 1024 })

    const warnings: string[] = []
    const log = await openEventLog({ ...options(dir, 1 << 20, 1), warn: (message) => warnings.push(message) })
    expect(warnings).toEqual([
      'events.jsonl ends in a cut-off line (a write was interrupted); the next one starts a new line',
    ])
    expect(log.sizeBytes).toBe(1024)
    await log.append(paddedLine(3))
    await log.append(paddedLine(4)) // one new line only: the next append starts where it ended
    await log.close()
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).split('\n')
    expect(lines).toEqual([
      paddedLine(1).trimEnd(),
      paddedLine(2).slice(0, 424),
      paddedLine(3).trimEnd(),
      paddedLine(4).trimEnd(),
      '',
    ])
    expect(JSON.parse(lines[2] ?? '')).toMatchObject({ n: 3 })
  })
})
