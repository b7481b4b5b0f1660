/**
 * The hub's own memory: the bus, the hub and its gateway in a process of their own, run bundled
 * with plain Node, as the app's main process runs them; 4 producers, 4 consumers and an inspector,
 * each in a process of its own, attach through the gateway (in the app, modules and windows attach
 * over ports; a WebSocket endpoint costs the hub more, for its socket's buffers). The resources
 * case's other variants keep their endpoints as worker threads of the hub's process, whose RSS then
 * counts them and their TypeScript loaders.
 */
import { join } from 'node:path'
import { build } from 'esbuild'
import { BenchProcess, has, type Measurement } from '../harness.js'
import type { HubAloneReport } from '../workers/hub-alone.js'
import type { EndpointReport } from '../workers/ws-endpoint.js'

const PAIRS = 4
const workers = join(import.meta.dirname, '../workers')
const root = join(import.meta.dirname, '../..')

/** Bundles the hub's process (our TypeScript; packages stay external, plain JavaScript already). */
async function bundleHub(): Promise<string> {
  const outfile = join(root, 'node_modules/.cache/skelly-bench/hub-alone.mjs')
  await build({
    entryPoints: [join(workers, 'hub-alone.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'error',
  })
  return outfile
}

/** Asks each of `children` the same, and adds up `count` of the answers `answered` picks. */
async function askAll<T extends EndpointReport>(
  children: BenchProcess<EndpointReport>[],
  command: object,
  answered: (report: EndpointReport) => report is T,
  count: (answer: T) => number,
): Promise<number> {
  const answers = await Promise.all(children.map((child) => child.ask(command, answered)))
  return answers.reduce((total, answer) => total + count(answer), 0)
}

/**
 * The hub process's RSS once every endpoint is attached, before any traffic; then its peak RSS,
 * heap and young generation and its event-loop utilization while 4 producers publish `rate`
 * keystrokes a second in all for `seconds` (after a warm-up of a second), every one delivered to
 * its consumer and the inspector watching; then its heap once collected. Fails if traffic or the
 * streams stopped.
 */
export async function hubAlone(rate: number, seconds: number): Promise<Measurement[]> {
  const hub = new BenchProcess<HubAloneReport>(['--expose-gc', await bundleHub(), String(PAIRS)])
  const endpoints: BenchProcess<EndpointReport>[] = []
  try {
    const { url, tokens } = await hub.next(has('url'))
    const endpoint = (role: string, module: string, producer = '') => {
      const child = new BenchProcess<EndpointReport>([
        '--import',
        'tsx',
        join(workers, 'ws-endpoint.ts'),
        role,
        url,
        tokens[module] as string,
        producer,
      ])
      endpoints.push(child)
      return child
    }
    const producers = Array.from({ length: PAIRS }, (_, i) => endpoint('producer', `producer-${i}`))
    // Consumer i takes producer i's keystrokes.
    const consumers = Array.from({ length: PAIRS }, (_, i) =>
      endpoint('consumer', `consumer-${i}`, `producer-${i}`),
    )
    const inspector = endpoint('inspector', 'inspector')
    await Promise.all(endpoints.map((child) => child.next(has('ready'))))
    const { idleRssMb } = await hub.ask({ idle: true }, has('idleRssMb'))
    const produce = (forSeconds: number) =>
      askAll(
        producers,
        { go: true, rate: rate / PAIRS, seconds: forSeconds },
        has('sent'),
        (answer) => answer.sent,
      )
    let sent = await produce(1)
    hub.tell({ measure: true })
    sent += await produce(seconds)
    const usage = await hub.ask({ report: true }, has('rssMb'))
    // Everything sent is delivered before the case ends (BestEffort, but nothing fills up here).
    const deadline = performance.now() + 10_000
    let received = 0
    while (received < sent && performance.now() < deadline) {
      received = await askAll(consumers, { report: true }, has('received'), (answer) => answer.received)
      if (received < sent) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const watched = await inspector.ask({ report: true }, has('snapshots'))
    if (received < sent) throw new Error(`the consumers got ${received} of ${sent} messages`)
    if (watched.snapshots === 0 || watched.received === 0) {
      throw new Error(`the inspector got ${watched.snapshots} snapshots and ${watched.received} tail entries`)
    }
    return [
      { metric: 'hub process RSS peak', unit: 'MB', value: usage.rssMb, better: 'lower' },
      { metric: 'hub process RSS, attached, before traffic', unit: 'MB', value: idleRssMb, better: 'lower' },
      { metric: 'hub heap peak', unit: 'MB', value: usage.heapMb, better: 'lower' },
      { metric: 'hub young generation peak', unit: 'MB', value: usage.youngMb, better: 'lower' },
      { metric: 'hub live heap after the run', unit: 'MB', value: usage.liveHeapMb, better: 'lower' },
      { metric: 'hub event-loop utilization', unit: '%', value: usage.elu * 100, better: 'lower' },
    ]
  } finally {
    for (const child of endpoints) child.process.kill()
    // It closes the bus and the gateway and exits; one that died already has no channel left.
    if (hub.process.connected) hub.tell({ exit: true })
  }
}
