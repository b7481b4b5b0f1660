/**
 * What the main process's modules cost in memory before they do anything: the packages they load.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')

describe('the main process’s footprint', () => {
  it('loads no WebAssembly histogram build, nor the libraries that unpack it', async () => {
    // hdr-histogram-js's index loads them whether used or not: ~8 MB of the hub process's RSS.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/fixtures/loaded-packages.ts',
        'src/main/bus/index.ts',
        'src/main/hub/index.ts',
        'src/main/node/ws-gateway.ts',
      ],
      { cwd: root, timeout: 30_000 },
    )
    const loaded = JSON.parse(stdout) as string[]
    expect(loaded.some((file) => file.includes('/hdr-histogram-js/'))).toBe(true) // the check sees them
    const unpacking = /\/(pako|base64-js|@assemblyscript)\/|\/hdr-histogram-js\/dist\/wasm\//
    expect(loaded.filter((file) => unpacking.test(file))).toEqual([])
  }, 60_000)
})
