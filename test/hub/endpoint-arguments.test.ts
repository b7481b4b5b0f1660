/**
 * Bad arguments to an endpoint's calls get the answers the bus gives in process (BUS-API: async
 * methods reject, never throw; errors name what went wrong), and harm nothing: the connection stays
 * open and good calls still work.
 */
import { describe, expect, it } from 'vitest'
import { DeliveryMode, type EventBus, ModuleId } from '../../src/main/bus/index.js'
import type { BusClient } from '../../src/shared/index.js'
import { rawMessage, waitFor } from '../helpers.js'
import { connectClient, rawPeer, startHub } from './fixture.js'

/** An object any read of which throws, as a Proxy with throwing traps does. */
const unreadable = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error('trap')
      },
      ownKeys() {
        throw new Error('trap')
      },
      getPrototypeOf() {
        throw new Error('trap')
      },
    },
  )

type Caller = Pick<EventBus, 'publish' | 'subscribe' | 'unsubscribe'> | BusClient
const module = ModuleId.Storage
const calls: [string, (api: Caller) => Promise<unknown>, string][] = [
  ['publish(null)', (api) => api.publish(null as never), 'MessageRejected'],
  ["publish('x')", (api) => api.publish('x' as never), 'MessageRejected'],
  ['publish(an unreadable object)', (api) => api.publish(unreadable() as never), 'MessageRejected'],
  [
    'subscribe with a null filter',
    (api) => api.subscribe(module, null as never, DeliveryMode.BestEffort, () => {}),
    'InvalidFilter',
  ],
  [
    'subscribe with an unknown type',
    (api) => api.subscribe(module, { types: ['Nope'] } as never, DeliveryMode.BestEffort, () => {}),
    'InvalidFilter',
  ],
  [
    'subscribe with an unreadable filter',
    (api) => api.subscribe(module, unreadable() as never, DeliveryMode.BestEffort, () => {}),
    'InvalidFilter',
  ],
  [
    'subscribe with a null mode',
    (api) => api.subscribe(module, {}, null as never, () => {}),
    'Configuration',
  ],
  [
    'subscribe with an unreadable mode',
    (api) => api.subscribe(module, {}, unreadable() as never, () => {}),
    'Configuration',
  ],
  [
    'subscribe without a handler',
    (api) => api.subscribe(module, {}, DeliveryMode.BestEffort, null as never),
    'Configuration',
  ],
  ...[
    ['an empty label', { label: '' }],
    ['a label of 81 characters', { label: 'x'.repeat(81) }],
    ['a misspelt option', { lable: 'writes RawEvents' }],
    ['options that are no object', 'writes RawEvents'],
    ['unreadable options', unreadable()],
  ].map(([what, options]): (typeof calls)[number] => [
    `subscribe with ${what}`,
    (api) => api.subscribe(module, {}, DeliveryMode.BestEffort, () => {}, options as never),
    'Configuration',
  ]),
  ['unsubscribe(null)', (api) => api.unsubscribe(null as never), 'SubscriptionNotFound'],
]

/** What `call` does: it must return a promise (never throw) that rejects; its error's kind. */
async function rejectionOf(call: () => Promise<unknown>): Promise<string> {
  let returned: Promise<unknown>
  try {
    returned = call()
  } catch (thrown) {
    return `threw synchronously: ${String(thrown)}`
  }
  return returned.then(
    (value) => `resolved with ${String(value)}`,
    (error: { kind?: string; message?: string }) => error.kind ?? `a plain error: ${error.message}`,
  )
}

describe('bad arguments at an endpoint', () => {
  it.each(calls)('%s rejects as the bus does, and harms nothing', async (_, call, kind) => {
    const { bus, hub } = await startHub()
    expect(await rejectionOf(() => call(bus))).toBe(kind)
    const storage = await connectClient(hub, module)
    expect(await rejectionOf(() => call(storage))).toBe(kind)
    expect(storage.isOpen).toBe(true)
    const seen: string[] = []
    await storage.subscribe(module, { types: ['RawEvent'] }, DeliveryMode.BestEffort, (message) => {
      seen.push(message.id)
    })
    const id = await storage.publish({ ...rawMessage(), source: module })
    await waitFor(() => seen.includes(id))
  })

  it('names what a publish got instead of a message', async () => {
    const { hub } = await startHub()
    const storage = await connectClient(hub, module)
    await expect(storage.publish(null as never)).rejects.toThrow(/publish takes a message .*not null/)
    await expect(storage.publish(unreadable() as never)).rejects.toThrow(
      /the message could not be read: Error: trap/,
    )
  })

  it('gets each request of an invalid frame rejected, and each bad message of a batch alone', async () => {
    const { hub } = await startHub()
    const peer = rawPeer(hub, ModuleId.DataCapture)
    const good = () => rawMessage()
    peer.send([
      { t: 'hello', v: 1 },
      { t: 'pubs', rid: 1, msgs: [good(), null, 'x', good()] },
      { t: 'sub', rid: 10, module: ModuleId.DataCapture, filter: null, mode: DeliveryMode.BestEffort },
      {
        t: 'sub',
        rid: 12,
        module: ModuleId.DataCapture,
        filter: {},
        mode: DeliveryMode.BestEffort,
        label: 'x'.repeat(81),
      },
      { t: 'unsub', rid: 11, sid: 5 },
      { t: 'pubs', rid: 20, msgs: 'not a batch' },
      { t: 'pubs', rid: -1, msgs: [good()] }, // names no request: an error frame
      { t: 'ping' },
    ])
    await waitFor(() => peer.frames.some((frame) => frame.t === 'pong'))
    const answered = (rid: number) =>
      peer.frames.find((frame) =>
        frame.t === 'okr' ? (frame.from as number) <= rid && rid <= (frame.to as number) : frame.rid === rid,
      )
    expect([1, 4].map((rid) => answered(rid)?.t)).toEqual(['okr', 'okr'])
    for (const rid of [2, 3, 10, 11, 12, 20]) {
      expect(answered(rid)).toMatchObject({ t: 'rej', error: { data: { kind: 'MessageRejected' } } })
    }
    expect(JSON.stringify(answered(2))).toContain('a message is an object')
    expect(JSON.stringify(answered(10))).toContain("invalid frame 'sub': filter")
    expect(JSON.stringify(answered(12))).toContain("invalid frame 'sub': label")
    expect(peer.frames.filter((frame) => frame.t === 'err')).toHaveLength(1)
  })
})
