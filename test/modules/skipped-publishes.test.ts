/**
 * A module's publishes given up on are counted and said, never dropped without a word: one log
 * line and one `Error` message per interval that had any.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { builtinCatalog, EventBusError, ModuleId } from '../../src/main/bus/index.js'
import { skippedPublishes } from '../../src/modules/skipped-publishes.js'
import type { BusClient } from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'
import { fakeBus } from './fake-bus.js'

const queueFull = () => EventBusError.of('QueueFull', { currentSize: 10, maxSize: 10 })

afterEach(() => {
  vi.restoreAllMocks()
})

describe('skipped publishes', () => {
  it('are said once per interval, in the log and as an Error message on the bus', async () => {
    const { bus, published } = fakeBus(async (message) => message.id)
    const log: string[] = []
    const skipped = skippedPublishes(bus, (line) => log.push(line), 50)
    for (let i = 0; i < 3; i++) skipped.skip('RawEvent', queueFull())
    skipped.skip('RawEvent', EventBusError.of('Disconnected', {}))
    skipped.skip('StorageStatus', new Error('anything else'))
    await waitFor(() => log.length === 1)
    const said =
      '3 RawEvent (QueueFull: a subscriber’s queue is full: it is not keeping up), ' +
      '1 RawEvent (Disconnected: the connection to the hub is down), 1 StorageStatus (Error: refused)'
    expect(log).toHaveLength(1)
    expect(log[0]).toMatch(/^skipped 5 publishes in the last \d+ ms: /)
    expect(log[0]?.endsWith(said)).toBe(true)
    expect(published).toHaveLength(1)
    const [report] = published
    expect(report?.source).toBe(ModuleId.DataCapture)
    expect(report?.payload.type).toBe('Error')
    // A valid Error message, as the bus will check it.
    const data = builtinCatalog.Error.parse(report?.payload.data)
    expect(data).toMatchObject({
      errorType: 'PublishesSkipped',
      message: log[0],
      module: ModuleId.DataCapture,
    })
    expect(data.context).toEqual({
      elapsedMs: expect.any(Number),
      skipped: [
        { type: 'RawEvent', kind: 'QueueFull', count: 3 },
        { type: 'RawEvent', kind: 'Disconnected', count: 1 },
        { type: 'StorageStatus', kind: 'Error', count: 1 },
      ],
    })
    // Each interval says only its own; a quiet one says nothing.
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(log).toHaveLength(1)
    skipped.skip('RawEvent', queueFull())
    skipped.stop()
    expect(log[1]).toMatch(/^skipped 1 publish in the last \d+ ms: 1 RawEvent \(QueueFull/)
    expect(published).toHaveLength(2)
  })

  it('logs a report it could not publish, and nothing else breaks', async () => {
    const { bus } = fakeBus(() => Promise.reject(EventBusError.of('Disconnected', {})))
    const log: string[] = []
    const skipped = skippedPublishes(bus, (line) => log.push(line), 60_000)
    skipped.skip('EventBatch', queueFull())
    skipped.stop()
    await waitFor(() => log.length === 2)
    expect(log[1]).toMatch(/^could not report the skipped publishes on the bus: .*Disconnected/)
  })

  it('stops once the hub has answered its last report, so the module closes only then', async () => {
    let answer: (id: string) => void = () => {}
    const { bus } = fakeBus((message) => new Promise((resolve) => (answer = () => resolve(message.id))))
    const log: string[] = []
    const skipped = skippedPublishes(bus, (line) => log.push(line), 60_000)
    skipped.skip('RawEvent', queueFull())
    let stopped = false
    const stopping = skipped.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(stopped).toBe(false)
    answer('')
    await stopping
    expect(log).toHaveLength(1) // the report itself; no "could not report"
  })

  it('says how long each interval since the last report was, in ms under a second, in tenths of a second from one', async () => {
    let now = 1_000
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const { bus } = fakeBus(async (message) => message.id)
    const log: string[] = []
    const skipped = skippedPublishes(bus, (line) => log.push(line), 50)
    skipped.skip('RawEvent', queueFull())
    now = 3_345
    await waitFor(() => log.length === 1)
    skipped.skip('RawEvent', queueFull())
    now = 4_345 // a second exactly
    await waitFor(() => log.length === 2)
    skipped.skip('RawEvent', queueFull())
    now = 5_344
    await skipped.stop()
    expect(log.map((line) => /in the last ([^:]+):/.exec(line)?.[1])).toEqual(['2.3 s', '1 s', '999 ms'])
  })

  it('says nothing more once stopped', async () => {
    const { bus } = fakeBus(async (message) => message.id)
    const log: string[] = []
    const skipped = skippedPublishes(bus, (line) => log.push(line), 20)
    await skipped.stop()
    skipped.skip('RawEvent', queueFull())
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(log).toEqual([])
  })

  it('says nothing when nothing was skipped', () => {
    const publish = vi.fn()
    const log: string[] = []
    void skippedPublishes({ module: 'x', publish } as unknown as BusClient, (line) => log.push(line)).stop()
    expect(log).toEqual([])
    expect(publish).not.toHaveBeenCalled()
  })
})
