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
  fromWebSocket,
  type Port,
} from '../../src/shared/index.js'
import { PortsGiven, toPort } from '../../src/shared/port.js'
import { fakeWebSocket } from '../fixtures/fake-websocket.js'
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

  it('knows a port given before by the port under its adapter, over every transport', () => {
    const node = new MessageChannel().port1
    const electron = fakeElectronPort().fake
    const socket = fakeWebSocket(1)
    const given = new PortsGiven()
    const alreadyGiven = /^Configuration: give: this port was given before/
    const refuse = (input: unknown) =>
      expect(() => given.assertNew(input, 'give', 'give another')).toThrow(alreadyGiven)
    given.add(fromNodePort(node))
    given.add(fromElectronPort(electron))
    given.add(fromWebSocket(socket))
    for (const again of [node, fromNodePort(node), fromDomPort(node as never), fromElectronPort(electron)])
      refuse(again)
    refuse(fromWebSocket(socket))
    // The other way round: raw first, then in an adapter.
    const raw = new MessageChannel().port1
    given.add(raw)
    refuse(fromNodePort(raw))
    // A Port made elsewhere is known by itself; other ports, and what is no port, are new.
    const custom: Port = { ...fromNodePort(new MessageChannel().port1) }
    given.add(custom)
    refuse(custom)
    expect(() => given.assertNew({ ...custom }, 'give', '')).not.toThrow()
    expect(() => given.assertNew(new MessageChannel().port1, 'give', '')).not.toThrow()
    expect(() => given.assertNew('a port', 'give', '')).not.toThrow()
    for (const port of [node, raw]) port.close()
  })

  it('refuses an object with only part of a port’s methods, whichever part', () => {
    const method = () => {}
    const partial = [
      { onMessage: method }, // a Port without send
      { send: method }, // a Port without onMessage
      { ref: method, postMessage: method }, // a Node port without on
      { addEventListener: method }, // a DOM port without postMessage
      { postMessage: method }, // a DOM port without addEventListener
    ]
    for (const notAPort of partial) {
      expect(() => toPort(notAPort as never), Object.keys(notAPort).join()).toThrow(/expected a Port/)
    }
  })

  it('takes a DOM-like port that also has on() for a DOM port, as it has no ref()', () => {
    const used: string[] = []
    const record = (name: string) => () => {
      used.push(name)
    }
    const domLike = {
      on: record('on'),
      addEventListener: record('addEventListener'),
      postMessage: record('postMessage'),
      start: record('start'),
      close: record('close'),
    }
    const port = toPort(domLike as never)
    port.onMessage(() => {})
    port.start()
    expect(used).toEqual(['addEventListener', 'addEventListener', 'start'])
  })

  it('reports a port closed once, though both this side’s close() and the port’s event say so', () => {
    const { fake } = fakeElectronPort() // its close() emits 'close' at once, as a peer's would
    const port = fromElectronPort(fake)
    const { closeReasons } = collect(port)
    port.close()
    fake.close()
    expect(closeReasons).toEqual([undefined])
  })

  it('tells a close listener set after the close at once, with the reason it closed with', () => {
    const socket = fakeWebSocket(1)
    const port = fromWebSocket(socket)
    socket.emit('close', { code: 4401, reason: 'wrong token' })
    const reasons: unknown[] = []
    port.onClose((reason) => reasons.push(reason))
    expect(reasons).toEqual(['the WebSocket closed with code 4401, "wrong token"'])
  })
})

describe('fromWebSocket', () => {
  it('holds units while connecting, sends them in order on open, and drops units once closing', () => {
    const socket = fakeWebSocket(0)
    const port = fromWebSocket(socket)
    port.send('[1]')
    port.send('[2]')
    expect(socket.sent).toEqual([])
    socket.readyState = 1
    socket.emit('open')
    port.send('[3]')
    expect(socket.sent).toEqual(['[1]', '[2]', '[3]'])
    socket.readyState = 2 // closing: a browser's send would throw away the unit, ws's would fail
    port.send('[4]')
    expect(socket.sent).toEqual(['[1]', '[2]', '[3]'])
  })

  it('says why the socket closed: its code, and its reason where there is one', () => {
    for (const [reason, said] of [
      ['too many units', 'the WebSocket closed with code 4429, "too many units"'],
      ['', 'the WebSocket closed with code 4429'],
    ]) {
      const socket = fakeWebSocket(1)
      const port = collect(fromWebSocket(socket))
      socket.emit('close', { code: 4429, reason })
      socket.emit('close', { code: 1006, reason: 'a second event' })
      expect(port.closeReasons).toEqual([said])
    }
  })

  it('closes with code 1000 and reports the close at once, once', () => {
    const socket = fakeWebSocket(1)
    const port = fromWebSocket(socket)
    const { closeReasons } = collect(port)
    port.close()
    expect(socket.closedWith).toEqual([[1000, 'closed']])
    expect(closeReasons).toEqual([undefined])
    socket.emit('close', { code: 1000, reason: 'closed' })
    expect(closeReasons).toEqual([undefined])
  })

  it('reads binary frames as UTF-8 text, whole or in fragments, and invalid UTF-8 as nothing', () => {
    const socket = fakeWebSocket(1)
    const port = collect(fromWebSocket(socket))
    const bytes = (text: string) => new TextEncoder().encode(text)
    const frames = [
      '["text"]',
      bytes('["a view"]'),
      bytes('["a buffer"]').buffer,
      [bytes('["frag'), bytes('ments"]')],
      new Uint8Array([0x5b, 0xff, 0x5d]), // not UTF-8
      42, // nothing a socket sends: handed on for the codec to refuse
    ]
    for (const data of frames) socket.emit('message', { data })
    expect(port.received).toEqual(['["text"]', '["a view"]', '["a buffer"]', '["fragments"]', undefined, 42])
  })

  it('tells the bytes sent that have not left yet', () => {
    const socket = fakeWebSocket(1)
    const port = fromWebSocket(socket)
    socket.bufferedAmount = 12_345
    expect(port.bufferedBytes?.()).toBe(12_345)
  })
})
