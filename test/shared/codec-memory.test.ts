/**
 * What the text codec keeps of the messages it encodes: nothing past the turn. Run in a fresh Node
 * with `--expose-gc` (test/fixtures/delivery-promotion.ts), so that the heap is this check's alone.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')

describe('the text codec’s memory', () => {
  it('lets delivered messages die young: none is promoted for what the codec remembers', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/fixtures/delivery-promotion.ts'],
      { cwd: root, timeout: 30_000 },
    )
    const { grownBytes } = JSON.parse(stdout) as { grownBytes: number }
    // 20,000 deliveries. Remembered in a WeakMap for the process's life, they grew the heap by
    // 3–10 MB in six runs of six (an old WeakMap's young keys survive scavenges on Node 20); their
    // forms remembered for the checkpoint only, by 0.05–0.2 MB.
    expect(grownBytes).toBeLessThan(1024 * 1024)
  }, 60_000)
})
