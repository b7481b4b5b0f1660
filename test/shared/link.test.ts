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
import { advance, flushMicrotasks, rawEvent, rawMessage, stallThisThread, useFakeClock } from '../helpers.js'
import { recordingLink } from './recording-link.js'

/**
 * Queues `count` publishes in one tick (a ping after every 100) and returns the `pubs` frames each
 * unit carried, and how many units left before the tick's end.
 */
function publishFlood(
  carrier: PortCarrier,
  count: number,
): { units: { rid: number; msgs: unknown[] }[][]; sentWithinTick: number } {
  const { peer, link, sent } = recordingLink(carrier)
  for (let rid = 1; rid <= count; rid++) {
    queuePublish(link, rid, BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent())))
    if (rid % 100 === 0) link.send({ t: 'ping' })
  }
  const sentWithinTick = peer.units.length
  link.flush()
  const units = sent().map((frames) => frames.flatMap((frame) => (frame.t === 'pubs' ? [frame] : [])))
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
    const { peer, link, sent } = recordingLink('clone')
    const send = peer.port.send
    // The whole unit fails (as one holding something no clone takes would); single frames pass.
    peer.port.send = (unit) => {
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
    const frames = sent().flat()
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

  it('ends the link to a silent peer once three intervals have passed, not before, and closes the port', async () => {
    useFakeClock()
    const { peer, link, endedBecause } = recordingLink()
    link.startHeartbeat(200)
    await advance(600)
    expect(endedBecause()).toBeUndefined()
    await advance(200)
    expect(endedBecause()).toBe('no heartbeat for 600 ms')
    expect(peer.isClosed()).toBe(true)
  })

  it('does not judge a silent peer on the tick after this side was away', async () => {
    const { link, endedBecause } = recordingLink()
    link.startHeartbeat(100)
    // The machine slept: the peer may not have spoken yet, and gets one more interval.
    stallThisThread(1000)
    await delay(50)
    expect(endedBecause()).toBeUndefined()
    await vi.waitFor(() => expect(endedBecause()).toBe('no heartbeat for 300 ms'), { timeout: 3000 })
  })

  it('stops when the link ends, whichever side ended it, and never starts at 0', () => {
    useFakeClock()
    try {
      for (const end of ['closed here', 'closed by the peer'] as const) {
        const { peer, link } = recordingLink()
        link.startHeartbeat(100)
        expect(vi.getTimerCount()).toBe(1)
        if (end === 'closed here') link.close()
        else peer.closeFromPeer('gone')
        expect(vi.getTimerCount()).toBe(0)
      }
      recordingLink().link.startHeartbeat(0) // off
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('started twice, pings once an interval', async () => {
    const { peer, link, sent } = recordingLink()
    const talking = setInterval(() => peer.arrive([{ t: 'pong' }]), 10) // a peer alive all along
    link.startHeartbeat(40)
    link.startHeartbeat(40)
    await delay(430)
    clearInterval(talking)
    link.close()
    // At most one ping a tick, however late the timers came (two heartbeats would send about 20).
    const pings = sent()
      .flat()
      .filter((frame) => frame.t === 'ping')
    expect(pings.length).toBeGreaterThan(0)
    expect(pings.length).toBeLessThanOrEqual(10)
  })
})

describe('a link receiving', () => {
  /** A valid frame from the hub (publishes 1 to 2 answered). */
  const answered = { t: 'okr', from: 1, to: 2 } as const

  it('answers a ping, takes a pong as a sign of life only, and hands on every other valid frame', async () => {
    const { peer, link, sent, received } = recordingLink()
    peer.arrive([{ t: 'ping' }, { t: 'pong' }, { t: 'ping' }, answered])
    await flushMicrotasks()
    expect(sent()).toEqual([[{ t: 'pong' }, { t: 'pong' }]])
    expect(received).toEqual([answered])
    link.close()
  })

  it('names an invalid frame by its kind, cut to 32 characters, and goes on with the unit', () => {
    const { peer, link, received, invalid } = recordingLink()
    peer.arrive([{ t: 'x'.repeat(1000) }, answered])
    expect(invalid).toHaveLength(1)
    expect(invalid[0]).toMatch(new RegExp(`^invalid frame '${'x'.repeat(32)}': `))
    expect(received).toEqual([answered])
    link.close()
  })

  it('names a batch it cannot decode and goes on with the unit', () => {
    const { peer, link, received, invalid } = recordingLink()
    peer.arrive([{ t: 'dlvs', sid: 1, msgs: [rawMessage(), rawMessage()], shapes: 'no templates' }, answered])
    expect(invalid).toHaveLength(1)
    expect(invalid[0]).toMatch(/^invalid frame 'dlvs': /)
    expect(received).toEqual([answered])
    link.close()
  })

  it('hands on nothing of a unit after a frame that closed the link, nor of a later unit', () => {
    // As a handler that ends the connection on the first frame it reads.
    const { peer, link, received } = recordingLink('clone', () => link.close())
    peer.arrive([answered, answered])
    peer.arrive([answered])
    expect(received).toHaveLength(1)
  })
})

describe('a closed link', () => {
  it('when its peer closed, drops what was queued and holds nothing for a sender to add to', async () => {
    const { peer, link, sent, endedBecause } = recordingLink()
    link.send({ t: 'ping' })
    peer.closeFromPeer('the peer went away')
    expect(endedBecause()).toBe('the peer went away')
    expect(link.lastQueued()).toBeUndefined()
    await flushMicrotasks()
    expect(sent()).toEqual([])
  })

  it('sends nothing more and holds nothing for a sender to add to', async () => {
    const { peer, link, sent, endedBecause } = recordingLink()
    link.send({ t: 'ping' })
    link.close()
    expect(endedBecause()).toBe('closed by this side')
    expect(peer.isClosed()).toBe(true)
    link.send({ t: 'ping' })
    expect(link.lastQueued()).toBeUndefined()
    link.sendWithPorts({ t: 'pong' }, [])
    link.flush()
    await flushMicrotasks()
    // What was queued before the close left with it.
    expect(sent()).toEqual([[{ t: 'ping' }]])
  })
})

describe('a link’s units', () => {
  /**
   * Sends frames of publishes holding `sizes` messages (none continuing the one before) in one
   * tick, and returns the units they went in, each as its frames' message counts.
   */
  function unitsOf(carrier: PortCarrier, sizes: number[]) {
    const { link, sent } = recordingLink(carrier)
    let rid = 1
    for (const size of sizes) {
      link.send({ t: 'pubs', rid, msgs: Array.from({ length: size }, () => rawMessage()) })
      rid += size + 1 // not continuing the frame before
    }
    link.flush()
    return sent().map((frames) => frames.map((frame) => (frame.t === 'pubs' ? frame.msgs.length : 0)))
  }

  it('hold as many messages as the codec allows, a next unit starting from none', () => {
    expect(unitsOf('text', [32, 32])).toEqual([[32, 32]])
    expect(unitsOf('text', [40, 40, 10, 14, 1])).toEqual([[40], [40, 10, 14], [1]])
  })

  it('hold a frame of more messages than a unit allows alone, and no empty unit before it', () => {
    expect(unitsOf('text', [65, 1])).toEqual([[65], [1]])
  })

  it('hold at most 4,096 frames, each counted as one message at least', () => {
    const { link, sent } = recordingLink()
    for (let n = 0; n <= 4096; n++) link.send({ t: 'ping' })
    link.flush()
    expect(sent().map((frames) => frames.length)).toEqual([4096, 1])
  })

  it('send a frame with ports after what was queued before it', () => {
    const { link, sent } = recordingLink()
    link.send({ t: 'ping' })
    link.sendWithPorts({ t: 'pong' }, [])
    expect(sent()).toEqual([[{ t: 'ping' }], [{ t: 'pong' }]])
  })

  it('carry ports only where the port both sends and adopts them', () => {
    const linkOver = (port: Port) =>
      new Link<HubFrame, EndpointFrame>(port, hubFrameSchema, {
        frame: () => {},
        invalid: () => {},
        unsendable: () => {},
        closed: () => {},
      })
    const { port1, port2 } = new MessageChannel()
    const both = linkOver(fromNodePort(port1))
    const sendsOnly = linkOver({ ...fromNodePort(port2), adopt: undefined })
    expect([both.canTransfer, sendsOnly.canTransfer]).toEqual([true, false])
    both.close()
    sendsOnly.close()
  })
})

describe('a link flushing after the input at hand', () => {
  /**
   * `calls` calls in one tick, each preparing an answer (a ping) to the input handled so far: each
   * with a preparation of its own, or all with the same one (as the hub gives its bound answer).
   */
  function flushedAfterInput(carrier: PortCarrier, calls: number, oneShared: boolean) {
    const { link, sent } = recordingLink(carrier)
    const prepared: number[] = []
    const preparation = (call: number) => () => {
      prepared.push(call)
      link.send({ t: 'ping' })
    }
    const shared = preparation(0)
    for (let call = 1; call <= calls; call++) link.flushAfterInput(oneShared ? shared : preparation(call))
    const frames = () => sent().map((unit) => unit.map((frame) => frame.t))
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

  it('over a socket, sends in the turn that prepares, ahead of what the input queued after it', async () => {
    const { link, sent } = recordingLink('text')
    link.flushAfterInput(() => link.send({ t: 'ping' }))
    let unitsSentByThen = -1
    queueMicrotask(() => {
      unitsSentByThen = sent().length
    })
    await flushMicrotasks()
    expect(unitsSentByThen).toBe(1)
  })

  it('over a socket, runs the preparations of one input’s turn in that turn only', async () => {
    const { link, sent } = recordingLink('text')
    const answers: string[] = []
    const answer = (to: string) => () => {
      answers.push(to)
      link.send({ t: 'ping' })
    }
    link.flushAfterInput(answer('first'))
    await flushMicrotasks()
    link.flushAfterInput(answer('second'))
    await flushMicrotasks()
    expect(answers).toEqual(['first', 'second'])
    expect(sent()).toEqual([[{ t: 'ping' }], [{ t: 'ping' }]])
  })
})
