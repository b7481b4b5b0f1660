/**
 * `npm start`, the README's first command, as a user runs it where Electron's binary is missing:
 * the line saying so, the headless host at the URLs it prints, Ctrl+C, a SIGTERM to the script or
 * to npm alone (as a supervisor may send), and a host that dies.
 * Electron's own `ELECTRON_OVERRIDE_DIST_PATH` points at an empty folder, so the binary is missing
 * here even on a machine that has it. Runs after the build (`npm test` builds first), so nothing
 * is built in the test's time.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { outputOf } from '../../test/process-output.js'
import { expect, test } from '../fixtures.js'

const root = join(import.meta.dirname, '..', '..')
test.describe.configure({ timeout: 120_000 })

/** `npm start` with a fresh data folder and any free port, once the host says it is running. */
async function npmStart() {
  const scratch = await mkdtemp(join(tmpdir(), 'skelly-e2e-npm-start-'))
  const child = spawn('npm', ['start'], {
    cwd: root,
    env: {
      ...process.env,
      ELECTRON_OVERRIDE_DIST_PATH: scratch,
      SKELLY_HTTP_PORT: '0',
      SKELLY_DATA_DIR: join(scratch, 'data'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal gives a command: Ctrl+C reaches the whole group.
    detached: true,
  })
  const { output, exited } = outputOf(child)
  const group = -(child.pid ?? 0)
  /** Ends what is left running, removes the data folder, and keeps the output in the report. */
  const cleanUp = async () => {
    await test.info().attach('npm start output', { body: output(), contentType: 'text/plain' })
    // The whole group at once: nothing outlives the test, whatever state a failure left it in.
    try {
      process.kill(group, 'SIGKILL')
    } catch {
      // Nothing of it left.
    }
    await rm(scratch, { recursive: true, force: true })
  }
  try {
    // Building first, should the sources be newer than the build, takes a minute at most.
    await expect.poll(output, { timeout: 90_000 }).toContain('Press Ctrl+C to stop.')
  } catch (error) {
    await cleanUp()
    throw error
  }
  const url = (name: string) => output().match(new RegExp(`${name}:\\s+(http\\S+)`))?.[1] ?? ''
  return {
    child,
    exited,
    /** Sends `signal` to every process `npm start` started, as a terminal's Ctrl+C does. */
    signalGroup: (signal: NodeJS.Signals) => process.kill(group, signal),
    output,
    urls: { app: url('app window'), inspector: url('inspector') },
    cleanUp,
  }
}

/** `npm start` for each test that asks for it, and whatever it started ended after the test. */
const withNpmStart = test.extend<{ started: Awaited<ReturnType<typeof npmStart>> }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern.
  started: async ({}, use) => {
    const started = await npmStart()
    await use(started)
    await started.cleanUp()
  },
})

/** The processes started, directly or not, by `parent` (`ps` is POSIX: Linux and macOS alike). */
function descendants(parent: ChildProcess): { pid: number; args: string }[] {
  const processes = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((match) => match !== null)
    .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args: args ?? '' }))
  const found: { pid: number; args: string }[] = []
  const parents = new Set([parent.pid])
  for (let grew = true; grew; ) {
    grew = false
    for (const p of processes)
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid)
        found.push(p)
        grew = true
      }
  }
  return found
}

/** Which of `pids` still run. */
function running(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  })
}

withNpmStart(
  'says Electron is missing, serves both pages at the URLs it prints, and drains on Ctrl+C',
  async ({ started, page, consoleErrors }) => {
    expect(started.output()).toContain(
      'Electron’s binary is not installed here: starting the headless host instead.',
    )
    await page.goto(started.urls.app)
    await expect(page.getByTestId('connection')).toHaveText('open')
    await expect(page.getByTestId('state')).toHaveText(/focused|distracted|idle/, { timeout: 20_000 })
    await page.goto(started.urls.inspector)
    await expect(page.getByTestId('connection')).toHaveText('open')
    await expect(page.getByTestId('kpi-published-total')).toBeVisible()
    expect(consoleErrors).toEqual([])
    // A terminal's Ctrl+C reaches npm, the script and the host alike (npm passes on nothing: it
    // waits for its script); the script passes it on too, so the host gets it twice. npm then
    // ends by the signal, as a shell expects of a command stopped by Ctrl+C.
    started.signalGroup('SIGINT')
    expect(await started.exited).toEqual({ code: null, signal: 'SIGINT' })
    expect(started.output().match(/SIGINT: draining the bus and stopping modules/g)).toHaveLength(1)
    expect(started.output()).toMatch(/stopped: published \d+, .*still queued 0, in flight 0/)
  },
)

withNpmStart(
  'passes a SIGTERM sent to the script alone (as a supervisor may) on to the host, which drains and exits 0',
  async ({ started }) => {
    // The script's node, not the shell npm runs it in (which passes signals on to nothing).
    const scripts = descendants(started.child).filter((p) => p.args.startsWith('node scripts/start.mjs'))
    expect(scripts).toHaveLength(1)
    process.kill(scripts[0]?.pid ?? 0, 'SIGTERM')
    expect(await started.exited).toEqual({ code: 0, signal: null })
    expect(started.output()).toContain('SIGTERM: draining the bus and stopping modules')
    expect(started.output()).toMatch(/stopped: published \d+, .*still queued 0, in flight 0/)
  },
)

withNpmStart(
  'stops the host when npm alone is ended by SIGTERM, though npm and its shell pass nothing on',
  async ({ started }) => {
    const left = descendants(started.child)
    started.child.kill('SIGTERM')
    expect(await started.exited).toEqual({ code: null, signal: 'SIGTERM' })
    // The script, left behind, stops the host: drained, and nothing npm started still running.
    await expect
      .poll(() => started.output(), { timeout: 20_000 })
      .toMatch(/stopped: published \d+, .*in flight 0/)
    expect(started.output()).toContain('SIGTERM: draining the bus and stopping modules')
    await expect.poll(() => running(left.map((p) => p.pid)), { timeout: 10_000 }).toEqual([])
  },
)

withNpmStart(
  'says by which signal a host was ended that it could not handle, and exits 1',
  async ({ started }) => {
    const hosts = descendants(started.child).filter((p) =>
      p.args.includes(join('out', 'main', 'headless.js')),
    )
    expect(hosts).toHaveLength(1)
    process.kill(hosts[0]?.pid ?? 0, 'SIGKILL')
    expect(await started.exited).toEqual({ code: 1, signal: null })
    expect(started.output()).toContain('The host was ended by SIGKILL.')
  },
)
