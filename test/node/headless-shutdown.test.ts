/**
 * Ctrl+C, and SIGTERM while the pipeline runs under load: the headless host drains within its
 * timeout, stops every module, leaves nothing unaccounted, and exits 0.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDirsRemovedAfterAll, waitFor } from '../helpers.js'
import { outputOf } from '../process-output.js'

const freshDir = tempDirsRemovedAfterAll('sigterm')

const cli = join(import.meta.dirname, '../../src/main/node/cli.ts')

/** The CLI, started on a fresh data directory, once its five modules say they are ready. */
async function startedCli(env: Record<string, string> = {}) {
  const dataDir = await freshDir()
  const child = spawn(process.execPath, ['--import', 'tsx', cli], {
    env: { ...process.env, SKELLY_HTTP_PORT: '0', SKELLY_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const { output, exited } = outputOf(child)
  await waitFor(() => (output().match(/\] ready/g) ?? []).length === 5, 30_000)
  return { dataDir, child, exited, output }
}

describe('headless host shutdown', () => {
  it('stops once on Ctrl+C (SIGINT), as on SIGTERM: drained, accounted for, exit 0', async () => {
    const { child, exited, output } = await startedCli()
    // A terminal's Ctrl+C reaches every process of its group, and the script `npm start` runs passes
    // it on too: the host gets it twice, the second while it drains.
    child.kill('SIGINT')
    await waitFor(() => output().includes('SIGINT: draining'))
    child.kill('SIGINT')
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(output().match(/SIGINT: draining the bus and stopping modules/g)).toHaveLength(1)
    expect(output()).toMatch(/stopped: published \d+, .*still queued 0, in flight 0/)
  }, 60_000)

  it('drains on SIGTERM under load and exits 0 with everything accounted for', async () => {
    const { dataDir, child, exited, output: printed } = await startedCli({ SKELLY_CAPTURE_RATE: '2000' })
    await new Promise((resolve) => setTimeout(resolve, 1500)) // load flowing
    const signalledAt = performance.now()
    child.kill('SIGTERM')
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(performance.now() - signalledAt).toBeLessThan(20_000) // drain timeout 5 s per stage, with margin
    const output = printed()
    const summary = output.match(
      /stopped: published (\d+), delivered (\d+), dropped (\d+), coalesced (\d+), dead-lettered (\d+) .*accounted (\d+), still queued (\d+), in flight (\d+)/,
    )
    expect(summary, output).not.toBeNull()
    const [published, delivered, , , deadLettered, accounted, queued, inFlight] = (summary ?? [])
      .slice(1)
      .map(Number)
    expect(published).toBeGreaterThan(1000)
    expect(delivered).toBeGreaterThan(0)
    expect(queued).toBe(0)
    expect(inFlight).toBe(0)
    expect(accounted).toBeGreaterThanOrEqual(delivered as number)
    // Storage cannot keep up with 2000 events/s: what it still held at the drain timeout was
    // dead-lettered as Shutdown and persisted (the newest 1000, the queue's capacity).
    const persisted = (await readFile(join(dataDir, 'dead-letters.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line.includes('"op":"add"'))
    expect(persisted).toHaveLength(Math.min(deadLettered as number, 1000))
    if (persisted.length > 0) expect(persisted.at(-1)).toContain('"reason":"Shutdown"')
    expect(output).toMatch(/\[storage\] shutting down/)
  }, 60_000)
})
