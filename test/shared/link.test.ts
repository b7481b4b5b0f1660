import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { MessageChannel, Worker } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { queuePublish } from '../../src/shared/batching.js'
import { codecFor } from '../../src/shared/codec.js'
import { Link } from '../../src/shared/link.js'
import { fromNodePort, type Port, type PortCarrier } from '../../src/shared/port.js'
import { type EndpointFrame, type HubFrame, hubFrameSchema } from '../../src/shared/wire.js'
import { rawEvent, stallThisThread } from '../helpers.js'

/** A port that only records the units sent through it. */
function recordingPort(carrier: PortCarrier): Port & { units: unknown[] } {
  const units: unknown[] = []
  return {
    carrier,
    units,
    send: (unit) => units.push(unit),
    onMessage: () => {},
    onClose: () => {},
    start: () => {},
    close: () => {},
  }
}

/** Queues `count` publishes in one tick and returns the `pubs` frames each unit carried. */
function publishFlood(carrier: PortCarrier, count: number): { rid: number; msgs: unknown[] }[][] {
  const port = recordingPort(carrier)
  const link = new Link<HubFrame, EndpointFrame>(port, hubFrameSchema, {
    frame: () => {},
    invalid: () => {},
    unsendable: () => {},
    closed: () => {},
  })
  for (let rid = 1; rid <= count; rid++) {
    queuePublish(link, rid, BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    if (rid % 100 === 0) link.send({ t: 'ping' })
  }
  link.flush()
  const codec = codecFor(carrier)
  return port.units.map((unit) =>
    (codec.decode(unit) as EndpointFrame[]).flatMap((frame) => (frame.t === 'pubs' ? [frame] : [])),
  )
}

describe('a link sending a flood queued in one tick', () => {
  it('writes text units of at most 64 messages, in order and complete', () => {
    const units = publishFlood('text', 1000)
    expect(units.length).toBeGreaterThanOrEqual(1000 / 64)
    for (const frames of units) {
      expect(frames.reduce((sum, frame) => sum + frame.msgs.length, 0)).toBeLessThanOrEqual(64)
    }
    const rids = units.flat().flatMap((frame) => frame.msgs.map((_, index) => frame.rid + index))
    expect(rids).toEqual(Array.from({ length: 1000 }, (_, index) => index + 1))
  })

  it('sends the same flood over a port as one unit', () => {
    const units = publishFlood('clone', 1000)
    expect(units).toHaveLength(1)
    expect(units[0]?.reduce((sum, frame) => sum + frame.msgs.length, 0)).toBe(1000)
  })
})

describe('a link’s heartbeat', () => {
  /**
   * A link on one end of a channel whose other end a worker keeps talking on, every 20 ms, until
   * it is sent anything.
   */
  async function linkToChattyPeer() {
    const { port1, port2 } = new MessageChannel()
    const peer = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads')
       const talking = setInterval(() => workerData.port.postMessage([{ t: 'pong' }]), 20)
       parentPort.on('message', () => clearInterval(talking)) // and stays alive, its port open`,
      { eval: true, workerData: { port: port2 }, transferList: [port2] },
    )
    await once(peer, 'online')
    let endedBecause: string | undefined
    const link = new Link<HubFrame, EndpointFrame>(fromNodePort(port1), hubFrameSchema, {
      frame: () => {},
      invalid: () => {},
      unsendable: () => {},
      closed: (reason) => {
        endedBecause = reason
      },
    })
    link.startHeartbeat(200)
    return { peer, link, endedBecause: () => endedBecause }
  }

  it('does not give up on a peer that kept talking while this side was stalled, and still notices one that stops', async () => {
    const { peer, link, endedBecause } = await linkToChattyPeer()
    try {
      await delay(500)
      expect(endedBecause()).toBeUndefined()
      // This thread is away for ten heartbeats (a busy main process, a machine that slept): the
      // peer's units wait unread behind the heartbeat's timer.
      stallThisThread(2000)
      await delay(700)
      expect(endedBecause()).toBeUndefined()
      // The peer goes silent for real (its port still open): the link ends within a few intervals.
      peer.postMessage('hush')
      await vi.waitFor(() => expect(endedBecause()).toMatch(/^no heartbeat for 600 ms/), { timeout: 3000 })
    } finally {
      link.close()
      await peer.terminate()
    }
  })
})
