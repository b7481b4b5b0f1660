/**
 * A window's stream fanned out to its listeners, over connections that are names and an opener the
 * test settles: one stream per connection while there are listeners, however they interleave.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FanOutStream } from '../../src/preload/fan-out-stream.js'
import { EventBusError } from '../../src/shared/index.js'
import { deferred } from '../helpers.js'

/** A stream whose opens the test settles; `log` says what was opened and stopped, on which connection. */
function recordedStream() {
  const log: string[] = []
  const pending: { connection: string; opened: ReturnType<typeof deferred<() => void>> }[] = []
  const stream = new FanOutStream<string, () => void>('metrics', (connection) => {
    log.push(`open ${connection}`)
    const opened = deferred<() => void>()
    pending.push({ connection, opened })
    return opened.promise
  })
  /** Settles every open asked for so far: open, with a stop that is logged. */
  const openAll = async () => {
    for (const { connection, opened } of pending.splice(0))
      opened.resolve(() => log.push(`stop ${connection}`))
    await Promise.resolve()
    await Promise.resolve()
  }
  return { stream, log, pending, openAll }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('FanOutStream', () => {
  it('opens once on a connection, for listeners that came before it or after', async () => {
    const { stream, log, openAll } = recordedStream()
    stream.add(() => {})
    stream.add(() => {})
    expect(log).toEqual([])
    const connected = stream.connectedTo('one')
    stream.add(() => {}) // while it opens
    await openAll()
    await connected
    stream.add(() => {})
    expect(log).toEqual(['open one'])
  })

  it('stops when its last listener goes, once it is open, and opens again for the next', async () => {
    const { stream, log, openAll } = recordedStream()
    void stream.connectedTo('one')
    const first = stream.add(() => {})
    const second = stream.add(() => {})
    first()
    expect(log).toEqual(['open one'])
    second() // still opening: stopped once it is open
    await openAll()
    expect(log).toEqual(['open one', 'stop one'])
    stream.add(() => {})
    await openAll()
    expect(log).toEqual(['open one', 'stop one', 'open one'])
  })

  it('opens again on each new connection, and stops nothing on one that closed', async () => {
    const { stream, log, openAll } = recordedStream()
    const remove = stream.add(() => {})
    void stream.connectedTo('one')
    await openAll()
    void stream.connectedTo(undefined)
    void stream.connectedTo('two')
    await openAll()
    remove()
    await Promise.resolve()
    expect(log).toEqual(['open one', 'open two', 'stop two'])
  })

  it('keeps its listeners when the connection dropped as it opened, and opens on the next', async () => {
    const { stream, log, pending } = recordedStream()
    stream.add(() => {})
    const connected = stream.connectedTo('one')
    pending[0]?.opened.reject(EventBusError.of('Disconnected', { reason: 'gone' }))
    await connected
    void stream.connectedTo('two')
    expect(log).toEqual(['open one', 'open two'])
    expect(stream.listeners.size).toBe(1)
  })

  it('lets go of its listeners when the hub refuses it, and says why', async () => {
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { stream, log, pending } = recordedStream()
    stream.add(() => {})
    const connected = stream.connectedTo('one')
    pending[0]?.opened.reject(EventBusError.of('Unauthorized', { module: 'app', action: 'inspect' }))
    await connected
    expect(stream.listeners.size).toBe(0)
    expect(reported).toHaveBeenCalledWith(
      expect.stringMatching(/^skelly-bus: the metrics stream was refused: /),
    )
    await Promise.resolve()
    expect(log).toEqual(['open one'])
    stream.add(() => {}) // a listener later asks again, and is told again
    expect(log).toEqual(['open one', 'open one'])
  })

  it('ignores the refusal of an open on a connection that has gone since', async () => {
    const { stream, log, pending } = recordedStream()
    stream.add(() => {})
    const first = stream.connectedTo('one')
    void stream.connectedTo('two')
    pending[0]?.opened.reject(EventBusError.of('Unauthorized', { module: 'app', action: 'inspect' }))
    await first
    expect(stream.listeners.size).toBe(1)
    expect(log).toEqual(['open one', 'open two'])
  })
})
