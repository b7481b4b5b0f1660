/**
 * Starting the headless host with bad settings, a busy port or a data directory another host
 * uses: one clear line, exit code 1, nothing left behind; the host already running is unharmed.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { DataDirInUseError, lockDataDir } from '../../src/main/node/data-dir-lock.js'
import { startHeadlessHost } from '../../src/main/node/headless.js'
import { readHostSettings } from '../../src/main/node/host-environment.js'
import type { TakerCommand } from '../fixtures/lock-taker.js'
import { rawEvent, tempDirsRemovedAfterAll, waitFor } from '../helpers.js'

const cli = join(import.meta.dirname, '../../src/main/node/cli.ts')
const freshDir = tempDirsRemovedAfterAll('start')

/** Runs the CLI with `env` added; resolves with its exit code and everything it printed. */
function runCli(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', cli],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (_, stdout, stderr) => resolve({ code: child.exitCode, output: `${stdout}${stderr}` }),
    )
  })
}

/** A port on 127.0.0.1 that something else listens on, until `release()`. */
async function takenPort(): Promise<{ port: number; release: () => void }> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as { port: number }).port, release: () => server.close() }
}

describe('the headless host’s settings', () => {
  it('defaults each variable that is unset or blank', () => {
    const settings = readHostSettings({ SKELLY_HTTP_PORT: ' ', SKELLY_DATA_DIR: '' }, '/opt/out', '/home/u')
    expect(settings).toEqual({
      httpPort: 4780,
      dataDir: '/home/u/.data',
      captureRate: 10,
      outDir: '/opt/out',
    })
    expect(readHostSettings({ SKELLY_HTTP_PORT: '0', SKELLY_CAPTURE_RATE: '2.5' }, '/o')).toMatchObject({
      httpPort: 0,
      captureRate: 2.5,
    })
  })

  it.each([
    ['SKELLY_HTTP_PORT', 'abc', 'must be an integer from 0 to 65535'],
    ['SKELLY_HTTP_PORT', '70000', 'must be an integer from 0 to 65535'],
    ['SKELLY_HTTP_PORT', '-1', 'must be an integer from 0 to 65535'],
    ['SKELLY_HTTP_PORT', '80.5', 'must be an integer from 0 to 65535'],
    ['SKELLY_CAPTURE_RATE', '-5', 'must be a number of events per second above 0 up to 100000'],
    ['SKELLY_CAPTURE_RATE', 'fast', 'must be a number of events per second above 0 up to 100000'],
    ['SKELLY_CAPTURE_RATE', '0', 'must be a number of events per second above 0 up to 100000'],
  ])('refuses %s=%s, naming it', (name, value, rule) => {
    expect(() => readHostSettings({ [name]: value }, '/o')).toThrow(
      expect.objectContaining({
        kind: 'Configuration',
        message: expect.stringContaining(`${name} ${rule} (got '${value}')`),
      }),
    )
  })
})

describe('the data directory’s lock', () => {
  it('lets one host at a time hold a data directory, and is free again once given up', async () => {
    const dir = await freshDir()
    const unlock = await lockDataDir(dir)
    await expect(lockDataDir(dir)).rejects.toThrow(
      `${dir} is in use by another Skelly-Jelly host (pid ${process.pid})`,
    )
    await unlock()
    await (await lockDataDir(dir))()
  })

  it('takes over the lock of a host that died without giving it up', async () => {
    const dir = await freshDir()
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(join(dir, 'host.lock'), String(dead))
    const unlock = await lockDataDir(dir)
    await unlock()
    expect(existsSync(join(dir, 'host.lock'))).toBe(false)
  })

  it('takes over a lock that names no process', async () => {
    // Its text names its takeover lock: one that could not be a file name's part is taken over too.
    for (const text of ['', 'garbage', '0', '-1', '../elsewhere', 'x'.repeat(300)]) {
      const dir = await freshDir()
      await writeFile(join(dir, 'host.lock'), text)
      const unlock = await lockDataDir(dir)
      expect(await readFile(join(dir, 'host.lock'), 'utf8')).toBe(String(process.pid))
      await unlock()
    }
  })

  it('lets one of several takers in one process have it, and leaves nothing else in the folder', async () => {
    const dir = await freshDir()
    const takers = await Promise.allSettled(Array.from({ length: 5 }, () => lockDataDir(dir)))
    const taken = takers.filter((taker) => taker.status === 'fulfilled')
    expect(taken).toHaveLength(1)
    for (const taker of takers)
      if (taker.status === 'rejected') expect(taker.reason).toBeInstanceOf(DataDirInUseError)
    expect(await readdir(dir)).toEqual(['host.lock'])
    await taken[0]?.value()
    expect(await readdir(dir)).toEqual([])
  })

  it('takes over the lock of a host that died, and what takers that died taking it over left', async () => {
    const dir = await freshDir()
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(join(dir, 'host.lock'), String(dead))
    // A taker died taking it over, and the one that took over from it died too.
    await writeFile(join(dir, `host.lock.takeover.${dead}`), String(dead))
    await writeFile(join(dir, `host.lock.takeover.${dead}.${dead}`), String(dead))
    // A takeover lock for another dead host's lock, left from before.
    await writeFile(join(dir, 'host.lock.takeover.1'), String(dead))
    const unlock = await lockDataDir(dir)
    expect(await readdir(dir)).toEqual(['host.lock'])
    expect(await readFile(join(dir, 'host.lock'), 'utf8')).toBe(String(process.pid))
    await unlock()
  })

  it('waits for another host taking over a dead host’s lock, and gives up after 2 s naming it', async () => {
    const dir = await freshDir()
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(join(dir, 'host.lock'), String(dead))
    // A taker that died taking it over, and one that took over from it and hangs.
    const hanging = `host.lock.takeover.${dead}.${dead}`
    await writeFile(join(dir, `host.lock.takeover.${dead}`), String(dead))
    await writeFile(join(dir, hanging), String(process.pid))
    const started = performance.now()
    await expect(lockDataDir(dir)).rejects.toThrow(
      `${dir} is being taken over by another Skelly-Jelly host (pid ${process.pid}) for over 2 s (if no such host runs, remove ${join(dir, hanging)})`,
    )
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_000)
    expect((await readdir(dir)).sort()).toEqual(['host.lock', `host.lock.takeover.${dead}`, hanging])
  })

  it('refuses a lock it cannot read, naming it, and removes nothing', async () => {
    const dir = await freshDir()
    await mkdir(join(dir, 'host.lock'))
    await expect(lockDataDir(dir)).rejects.toThrow(
      `the lock ${join(dir, 'host.lock')} cannot be read (EISDIR: illegal operation on a directory, read): if no Skelly-Jelly host runs, remove it`,
    )
    expect(await readdir(dir)).toEqual(['host.lock'])
  })

  it('lets one of several takers starting together have the lock a dead host left', async () => {
    // Worker threads, so the takers run at once; one pid, so each sees the others' locks as alive.
    const takers = 3
    const arrived = new Int32Array(new SharedArrayBuffer(4))
    const workers = Array.from(
      { length: takers },
      () =>
        new Worker(resolve(import.meta.dirname, '../../src/main/node/ts-worker-bootstrap.mjs'), {
          workerData: { entry: resolve(import.meta.dirname, '../fixtures/lock-taker.ts'), arrived, takers },
        }),
    )
    const told = (worker: Worker, command: TakerCommand) =>
      new Promise<string>((answered) => {
        worker.once('message', answered)
        worker.postMessage(command)
      })
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    try {
      for (let round = 1; round <= 20; round++) {
        const dir = await freshDir()
        await writeFile(join(dir, 'host.lock'), String(dead))
        const answers = await Promise.all(workers.map((worker) => told(worker, { take: dir, round })))
        expect(answers.sort()).toEqual(['DataDirInUseError', 'DataDirInUseError', 'got'])
        await Promise.all(workers.map((worker) => told(worker, { release: true })))
        expect(await readdir(dir)).toEqual([])
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()))
    }
  }, 30_000)

  it('refuses a lock held by a running process of another user', async () => {
    const dir = await freshDir()
    await writeFile(join(dir, 'host.lock'), '4242')
    // Signalling another user's process is refused with EPERM: it is alive all the same.
    vi.spyOn(process, 'kill').mockImplementation(() => {
      throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' })
    })
    await expect(lockDataDir(dir)).rejects.toThrow('in use by another Skelly-Jelly host (pid 4242)')
    vi.restoreAllMocks()
  })
})

describe('starting the headless host', () => {
  it('refuses a second host on the same data directory; the first keeps working, and frees it as it stops', async () => {
    const dataDir = await freshDir()
    const options = { outDir: '/nonexistent', dataDir, httpPort: 0, modules: [] }
    const first = await startHeadlessHost(options)
    try {
      await expect(startHeadlessHost(options)).rejects.toThrow('is in use by another Skelly-Jelly host')
      await first.bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
      expect((await first.bus.metrics()).messagesPublished).toBe(1)
    } finally {
      await first.stop()
    }
    const again = await startHeadlessHost(options)
    await again.stop()
  })

  it('starts on a corrupt dead-letter log and says so as an error of the orchestrator', async () => {
    const dataDir = await freshDir()
    await writeFile(join(dataDir, 'dead-letters.jsonl'), '{"op":"add"\n')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const host = await startHeadlessHost({ outDir: '/nonexistent', dataDir, httpPort: 0, modules: [] })
    try {
      await waitFor(() => host.bus.registry.get(ModuleId.Orchestrator)?.errorsReported === 1)
      expect(host.bus.registry.get(ModuleId.Orchestrator)?.lastError).toMatchObject({
        errorType: 'DeadLetterLog',
        message: expect.stringMatching(/record 1 is (truncated|corrupt)/),
      })
    } finally {
      await host.stop()
      warn.mockRestore()
    }
  })

  it('refuses a module option that is not one before it starts anything', async () => {
    const dataDir = await freshDir()
    await expect(
      startHeadlessHost({
        outDir: '/nonexistent',
        dataDir,
        httpPort: 0,
        // As a caller without the types would: typed, the misspelt key does not compile.
        moduleOptions: { storage: { batchMS: 600 } } as never,
      }),
    ).rejects.toMatchObject({
      kind: 'Configuration',
      reason: 'moduleOptions.storage: Unrecognized key: "batchMS"',
    })
    expect(existsSync(join(dataDir, 'host.lock'))).toBe(false)
  })

  it('stops what it had started and frees the data directory when its page server cannot listen', async () => {
    const { port, release } = await takenPort()
    const dataDir = await freshDir()
    try {
      await expect(
        startHeadlessHost({ outDir: '/nonexistent', dataDir, httpPort: port, modules: [] }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' })
      expect(existsSync(join(dataDir, 'host.lock'))).toBe(false)
      const host = await startHeadlessHost({ outDir: '/nonexistent', dataDir, httpPort: 0, modules: [] })
      await host.stop()
    } finally {
      release()
    }
  })

  it('says in one line that the port is taken, exits 1 and leaves the data directory free', async () => {
    const { port, release } = await takenPort()
    const dataDir = await freshDir()
    try {
      const { code, output } = await runCli({ SKELLY_HTTP_PORT: String(port), SKELLY_DATA_DIR: dataDir })
      expect(code).toBe(1)
      expect(output).toContain(
        `Skelly-Jelly could not start: 127.0.0.1:${port} is already in use (is Skelly-Jelly already running?): set SKELLY_HTTP_PORT to another port, or 0 for any free one`,
      )
      expect(output).not.toMatch(/^\s+at /m) // no stack trace
      expect(existsSync(join(dataDir, 'host.lock'))).toBe(false)
    } finally {
      release()
    }
  }, 40_000)

  it('says in one line that another host uses the data directory, and exits 1', async () => {
    const dataDir = await freshDir()
    const unlock = await lockDataDir(dataDir)
    try {
      const { code, output } = await runCli({ SKELLY_HTTP_PORT: '0', SKELLY_DATA_DIR: dataDir })
      expect(code).toBe(1)
      expect(output.trim()).toMatch(
        new RegExp(
          `^Skelly-Jelly could not start: \\S+ is in use by another Skelly-Jelly host \\(pid ${process.pid}\\)[^\\n]*$`,
        ),
      )
    } finally {
      await unlock()
    }
  }, 40_000)

  it('says in one line what the system refused, and exits 1', async () => {
    const file = join(await freshDir(), 'a-file')
    await writeFile(file, '')
    const { code, output } = await runCli({ SKELLY_HTTP_PORT: '0', SKELLY_DATA_DIR: join(file, 'data') })
    expect(code).toBe(1)
    expect(output.trim()).toBe(
      `Skelly-Jelly could not start: ENOTDIR: not a directory, mkdir '${join(file, 'data')}'`,
    )
  }, 40_000)

  it('says in one line which variable is wrong, and exits 1', async () => {
    const { code, output } = await runCli({ SKELLY_HTTP_PORT: 'abc', SKELLY_DATA_DIR: await freshDir() })
    expect(code).toBe(1)
    expect(output.trim()).toBe(
      "Skelly-Jelly could not start: Configuration: SKELLY_HTTP_PORT must be an integer from 0 to 65535 (got 'abc')",
    )
  }, 40_000)
})
