/**
 * How the Electron host launches a module as a utility process, Electron's `utilityProcess`
 * mocked: what the supervisor learns of its end, and its kill.
 */
import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fatalReport } from '../../src/modules/runners/fatal-report.js'

class FakeUtilityProcess extends EventEmitter {
  readonly posted: unknown[] = []
  postMessage(message: unknown) {
    this.posted.push(message)
  }
  kill = vi.fn(() => {
    setImmediate(() => this.emit('exit', 15))
    return true
  })
}

const forked: FakeUtilityProcess[] = []

vi.mock('electron', () => ({
  MessageChannelMain: class {
    port1 = { on: vi.fn(), postMessage: vi.fn(), start: vi.fn(), close: vi.fn() }
    port2 = {}
  },
  utilityProcess: {
    fork: () => {
      const child = new FakeUtilityProcess()
      forked.push(child)
      return child
    },
  },
}))

const { launchUtilityProcess } = await import('../../src/main/electron/utility-launcher.js')

function launch() {
  const process = launchUtilityProcess('storage', { dataDir: '/tmp/data' } as never)
  const child = forked.at(-1) as FakeUtilityProcess
  return { process, child }
}

describe('a module launched as a utility process', () => {
  afterEach(() => {
    forked.length = 0
    vi.restoreAllMocks()
  })

  it('tells the process which module it runs, and ends with its exit code', async () => {
    const { process, child } = launch()
    expect(child.posted).toEqual([{ moduleId: 'storage', run: { dataDir: '/tmp/data' } }])
    child.emit('exit', 0)
    expect(await process.exited).toEqual({ code: 0 })
  })

  it('is ended by kill, which resolves once the process has exited', async () => {
    const { process, child } = launch()
    await process.kill()
    expect(child.kill).toHaveBeenCalledTimes(1)
    expect(await process.exited).toEqual({ code: 15 })
  })

  it('says which error it died of, the first it heard: what follows comes of it', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const reported = launch()
    reported.child.emit('message', { unrelated: true })
    reported.child.emit('message', fatalReport(new Error('a defect in Storage')))
    reported.child.emit('error', 'FatalError', 'v8::Isolate', '{}')
    reported.child.emit('exit', 1)
    expect(await reported.process.exited).toEqual({ code: 1, error: 'Error: a defect in Storage' })

    const crashed = launch()
    crashed.child.emit('error', 'FatalError', 'v8::Isolate', '{}')
    crashed.child.emit('message', fatalReport(new Error('what followed')))
    crashed.child.emit('exit', 1)
    expect(await crashed.process.exited).toEqual({ code: 1, error: 'FatalError at v8::Isolate' })
    expect(console.error).toHaveBeenCalledWith('[storage] FatalError at v8::Isolate')
  })
})
