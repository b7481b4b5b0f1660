/**
 * The headless host's module launcher reports how a worker ended: its exit code and, when it died
 * of an uncaught error, that error's text, which the registry and the inspector show.
 */
import { expect, it } from 'vitest'
import { launchWorker } from '../../src/main/node/worker-launcher.js'

it('reports the uncaught error a module worker died of with its exit code', async () => {
  const worker = launchWorker('no-such-module', { dataDir: '.', options: {} })
  expect(await worker.exited).toEqual({ code: 1, error: "Error: no module 'no-such-module'" })
}, 30_000)
