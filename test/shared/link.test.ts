import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { MessageChannel, Worker } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, ModuleId } from '../../src/main/bus/index.js'
import { queuePublish } from '../../src/shared/batching.js'
import { codecFor } from '../../src/shared/codec.js'
import { Link } from '../../src/shared/link.js'
import { fromNodePort, type PortCarrier } from '../../src/shared/port.js'
import { type EndpointFrame, type HubFrame, hubFrameSchema } from '../../src/shared/wire.js'
import { rawEvent, stallThisThread } from '../helpers.js'
import { recordingLink } from './recording-link.js'

/**
 * Queues `count` publishes in one tick (a ping after every 100) and returns the `pubs` frames each
 * unit carried, and how many units left before the tick's end.
 */
function publishFlood(
  carrier: PortCarrier,
  count: number,
): { units: { rid: number; msgs: unknown[] }[][]; sentWithinTick: number } {
  const { port, link } = recordingLink(carrier)
  for (let rid = 1; rid <= count; rid++) {
    queuePublish(link, rid, BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    if (rid % 100 === 0) link.send({ t: 'ping' })
  }
  const sentWithinTick = port.units.length
  link.flush()
  const codec = codecFor(carrier)
  const units = port.units.map((unit) =>
    (codec.decode(unit) as EndpointFrame[]).flatMap((frame) => (frame.t === 'pubs' ? [frame] : [])),
  )
  return { units, sentWithinTick }
}

describe('a link sending a flood queued in one tick', () => {
  it.each(['text', 'clone'] as const)(
    'sends %s frames of at most 64 messages, each as soon as it is full, in order and complete',
    (carrier) => {
      const { units, sentWithinTick } = publishFlood(carrier, 1000)
      for (const frames of units) {
        for (const frame of frames) expect(frame.msgs.length).toBeLessThanOrEqual(64)
        // Text units also hold 64 messages at most (the codec's limit), whatever their frames.
        if (carrier === 'text') {
          expect(frames.reduce((sum, frame) => sum + frame.msgs.length, 0)).toBeLessThanOrEqual(64)
        }
      }
      const rids = units.flat().flatMap((frame) => frame.msgs.map((_, index) => frame.rid + index))
      expect(rids).toEqual(Array.from({ length: 1000 }, (_, index) => index + 1))
      // Between two pings, 100 publishes fill one frame of 64: it left before the tick ended.
      expect(sentWithinTick).toBeGreaterThanOrEqual(10)
    },
  )
})

describe('a unit that cannot be sent whole', () => {
  it('goes frame by frame and message by message, each request’s mark with its own message', () => {
    const { port, link } = recordingLink('clone')
    const send = port.send
    // The whole unit fails (as one holding something no clone takes would); single frames pass.
    port.send = (unit) => {
      if (
        (codecFor('clone').decode(unit) as EndpointFrame[]).some((f) => f.t === 'pubs' && f.msgs.length > 1)
      )
        throw new Error('could not be cloned')
      send(unit)
    }
    const message = () => BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent()))
    queuePublish(link, 7, message(), {})
    queuePublish(link, 8, message())
    queuePublish(link, 9, message(), { module: ModuleId.Storage })
    link.flush()
    const frames = port.units.flatMap((unit) => codecFor('clone').decode(unit) as EndpointFrame[])
    expect(
      frames.map((frame) => (frame.t === 'pubs' ? { rid: frame.rid, count: frame.count } : frame)),
    ).toEqual([
      { rid: 7, count: [{ at: 0 }] },
      { rid: 8, count: undefined },
      { rid: 9, count: [{ at: 0, module: ModuleId.Storage }] },
    ])
    expect(frames.filter((frame) => 'count' in frame)).toHaveLength(2)
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

describe('a link flushing after the input at hand', () => {
  /**
   * `calls` calls in one tick, each preparing an answer (a ping) to the input handled so far: each
   * with a preparation of its own, or all with the same one (as the hub gives its bound answer).
   */
  function flushedAfterInput(carrier: PortCarrier, calls: number, oneShared: boolean) {
    const { port, link } = recordingLink(carrier)
    const prepared: number[] = []
    const preparation = (call: number) => () => {
      prepared.push(call)
      link.send({ t: 'ping' })
    }
    const shared = preparation(0)
    for (let call = 1; call <= calls; call++) link.flushAfterInput(oneShared ? shared : preparation(call))
    const frames = () =>
      port.units.map((unit) => (codecFor(carrier).decode(unit) as EndpointFrame[]).map((frame) => frame.t))
    return { prepared, frames }
  }

  it('over a port, prepares and sends at once, each time', () => {
    const { prepared, frames } = flushedAfterInput('clone', 3, false)
    expect(prepared).toEqual([1, 2, 3])
    expect(frames()).toEqual([['ping'], ['ping'], ['ping']])
  })

  it('over a socket, runs a preparation given for every unit once, then sends once', async () => {
    const { prepared, frames } = flushedAfterInput('text', 3, true)
    expect(prepared).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(prepared).toEqual([0])
    expect(frames()).toEqual([['ping']])
  })

  it('over a socket, runs each of several preparations once, all before the one send', async () => {
    const { prepared, frames } = flushedAfterInput('text', 3, false)
    await new Promise((resolve) => setImmediate(resolve))
    expect(prepared).toEqual([1, 2, 3])
    expect(frames()).toEqual([['ping', 'ping', 'ping']])
  })
})
