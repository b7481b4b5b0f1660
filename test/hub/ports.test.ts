/** The port adapters: each transport's events map onto the one Port interface. */
import { EventEmitter } from 'node:events'
import { MessageChannel } from 'node:worker_threads'
import type { MessagePortMain } from 'electron'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type ElectronMessagePortLike,
  fromDomPort,
  fromElectronPort,
  fromNodePort,
  type Port,
} from '../../src/shared/index.js'
import { toPort } from '../../src/shared/port.js'
import { waitFor } from '../helpers.js'

function collect(port: Port) {
  const received: unknown[] = []
  const closeReasons: unknown[] = []
  port.onMessage((data) => received.push(data))
  port.onClose((reason) => closeReasons.push(reason))
  port.start()
  return { received, closes: () => closeReasons.length, closeReasons }
}

/** An object behaving like Electron's MessagePortMain, recording what is posted on it. */
function fakeElectronPort() {
  const emitter = new EventEmitter()
  const posted: unknown[][] = []
  const fake = Object.assign(emitter, {
    postMessage: (...args: unknown[]) => posted.push(args),
    start: () => {},
    close: () => emitter.emit('close'),
  }) as unknown as ElectronMessagePortLike
  return { emitter, posted, fake }
}

describe('port adapters', () => {
  it('fromNodePort carries clones and reports the peer closing', async () => {
    const { port1, port2 } = new MessageChannel()
    const a = fromNodePort(port1)
    const b = collect(fromNodePort(port2))
    a.send([{ t: 'ping', at: new Date(0), tags: new Set(['x']) }])
    await waitFor(() => b.received.length === 1)
    expect(b.received[0]).toEqual([{ t: 'ping', at: new Date(0), tags: new Set(['x']) }])
    a.close()
    await waitFor(() => b.closes() === 1)
    // Node's listener gets a close event: no reason, so the link says 'the port closed'.
    expect(b.closeReasons).toEqual([undefined])
  })

  it('fromDomPort uses the EventTarget interface (message events carry .data)', async () => {
    const { port1, port2 } = new MessageChannel()
    const b = collect(fromDomPort(port2 as never))
    port1.postMessage(['hello'])
    await waitFor(() => b.received.length === 1)
    expect(b.received[0]).toEqual(['hello'])
    const a = fromDomPort(port1 as never)
    let closed = false
    a.onClose(() => {
      closed = true
    })
    a.close() // closing this side reports the close here at once, whatever the browser does
    expect(closed).toBe(true)
    await waitFor(() => b.closes() === 1) // and the peer sees it where its 'close' fires
    expect(b.closeReasons).toEqual([undefined])
  })

  it('fromElectronPort reads { data } events and never passes a transfer list', () => {
    const { emitter, posted, fake } = fakeElectronPort()
    const port = collect(fromElectronPort(fake))
    emitter.emit('message', { data: [{ t: 'pong' }], ports: [] })
    expect(port.received).toEqual([[{ t: 'pong' }]])
    fromElectronPort(fake).send([{ t: 'ping' }])
    expect(posted).toEqual([[[{ t: 'ping' }]]])
    emitter.emit('close', { type: 'close' })
    expect(port.closeReasons).toEqual([undefined])
  })

  it('carries ports with a unit (Node wraps them, DOM passes event.ports) and adopts what arrives', async () => {
    for (const adapter of [fromNodePort, fromDomPort] as ((port: never) => Port)[]) {
      const outer = new MessageChannel()
      const inner = new MessageChannel()
      const arrived: { data: unknown; ports: readonly unknown[] }[] = []
      const receiving = adapter(outer.port2 as never)
      receiving.onMessage((data, ports) => arrived.push({ data, ports }))
      receiving.start()
      adapter(outer.port1 as never).transfer?.([{ t: 'route' }], [inner.port2])
      await waitFor(() => arrived.length === 1)
      expect(arrived[0]?.data).toEqual([{ t: 'route' }])
      const adopted = collect(receiving.adopt?.(arrived[0]?.ports[0]) as Port)
      inner.port1.postMessage(['through the adopted port'])
      await waitFor(() => adopted.received.length === 1)
      expect(adopted.received).toEqual([['through the adopted port']])
      for (const port of [outer.port1, outer.port2, inner.port1]) port.close()
    }
  })

  it('fromElectronPort transfers ports as Electron does: in the transfer list and event.ports', () => {
    const { emitter, posted, fake } = fakeElectronPort()
    const port = fromElectronPort(fake)
    const received: unknown[] = []
    port.onMessage((data, ports) => received.push([data, ports]))
    port.transfer?.([{ t: 'route' }], ['a port'])
    expect(posted).toEqual([[[{ t: 'route' }], ['a port']]])
    emitter.emit('message', { data: [{ t: 'route' }], ports: ['a port'] })
    expect(received).toEqual([[[{ t: 'route' }], ['a port']]])
  })

  it('matches the shape of Electron’s MessagePortMain', () => {
    expectTypeOf<MessagePortMain>().toMatchTypeOf<ElectronMessagePortLike>()
  })

  it('adapts raw ports given to attach or connectBus, and refuses anything else', () => {
    const { port1 } = new MessageChannel()
    expect(toPort(port1).carrier).toBe('clone')
    for (const notAPort of [{}, null, undefined, 'port']) {
      expect(() => toPort(notAPort as never)).toThrow(expect.objectContaining({ kind: 'Configuration' }))
    }
    expect(() => toPort(null as never)).toThrow(/expected a Port.*got null/)
  })
})
