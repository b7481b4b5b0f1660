/**
 * A module's utility-process runner (`src/modules/runners/utility.ts`), run in a simulated utility
 * process: the exit code and the one report it ends with when it cannot start its module, when its
 * module's run fails, and on an error nothing caught.
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { reportedFatal } from '../../src/modules/runners/fatal-report.js'
import { SimulatedChannelMain, SimulatedUtilityProcess } from './simulated-electron.js'

const runner = join(import.meta.dirname, '../../src/modules/runners/utility.ts')

/** Starts the runner and does `act` to it; resolves to its exit code and the reports it sent. */
async function ending(act: (child: SimulatedUtilityProcess) => void) {
  const child = new SimulatedUtilityProcess(runner)
  const reports: string[] = []
  child.on('message', (sent) => {
    const report = reportedFatal(sent)
    if (report !== undefined) reports.push(report)
  })
  const exited = new Promise<number>((resolve) => child.once('exit', resolve))
  act(child)
  return { code: await exited, reports }
}

const run = { dataDir: '.', options: {} }

it('ends with 2, saying so, when asked for a module there is none of', async () => {
  const { port2 } = new SimulatedChannelMain()
  expect(await ending((child) => child.postMessage({ moduleId: 'no-such-module', run }, [port2]))).toEqual({
    code: 2,
    reports: ["Error: cannot start module 'no-such-module': no such module"],
  })
})

it('ends with 2, saying so, when no port to the hub came with its module', async () => {
  expect(await ending((child) => child.postMessage({ moduleId: 'storage', run }))).toEqual({
    code: 2,
    reports: ["Error: cannot start module 'storage': no port came with it"],
  })
})

it('ends with 1, reporting why, when its module’s run fails', async () => {
  const { port2 } = new SimulatedChannelMain()
  const { code, reports } = await ending((child) =>
    child.postMessage({ moduleId: 'gamification', run: { ...run, options: { cooldownMs: -1 } } }, [port2]),
  )
  expect(code).toBe(1)
  expect(reports).toEqual([expect.stringMatching(/^EventBusError: .*cooldownMs/)])
})

it('ends with 1 on an error nothing caught, reporting that one, not the errors that follow it', async () => {
  expect(
    await ending((child) => {
      child.crash('the cause')
      child.crash('what followed from it')
    }),
  ).toEqual({ code: 1, reports: ['Error: the cause'] })
})
