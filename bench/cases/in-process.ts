/**
 * In process: publish → handler, 1 and 8 subscribers. The bus with validation on (every publish is
 * validated against its zod schema and size-checked; messages are distinct, built before the
 * clock starts and published in turn, as the emitters' payload is) against mitt, eventemitter3 and node:events.
 */
import { EventEmitter } from 'node:events'
import EventEmitter3 from 'eventemitter3'
import mitt from 'mitt'
import * as thisBus from '../../src/main/bus/index.js'
import { type CaseDefinition, throughput } from '../harness.js'
import { keystroke, keystrokeMessage } from '../payload.js'

const CHUNK = 1000
const POOL = 4096

/** What the case needs of the bus's module: this checkout's, or another's (`bench/ab-in-process.ts`). */
export type BusModule = Pick<typeof thisBus, 'createEventBus' | 'DeliveryMode' | 'MessageFilter' | 'ModuleId'>

/** Milliseconds to deliver `total` publishes to each of `subscribers`, on a fresh bus of `module`. */
export async function timeBus(
  subscribers: number,
  total: number,
  module: BusModule = thisBus,
): Promise<number> {
  const { createEventBus, DeliveryMode, MessageFilter, ModuleId } = module
  const bus = createEventBus({ maxQueueSize: 100_000 })
  await bus.start()
  let delivered = 0
  for (let i = 0; i < subscribers; i++) {
    await bus.subscribe(ModuleId.Storage, MessageFilter.types(['RawEvent']), DeliveryMode.BestEffort, () => {
      delivered++
    })
  }
  // A pool of distinct messages, published in turn: building one per publish would measure
  // crypto.randomUUID and Date more than the bus.
  const pool = Array.from({ length: POOL }, (_, i) => keystrokeMessage(i))
  const start = performance.now()
  for (let sent = 0; sent < total; sent += CHUNK) {
    for (let i = 0; i < CHUNK; i++) void bus.publish(pool[(sent + i) % POOL] as (typeof pool)[number])
    await Promise.resolve() // let the chunk's deliveries run, as a publisher yielding would
  }
  while (delivered < total * subscribers) await new Promise((resolve) => setImmediate(resolve))
  const elapsedMs = performance.now() - start
  await bus.shutdown() // its timers would run on beside the next measurement
  return elapsedMs
}

function emitter(kind: string, subscribers: number, total: number): number {
  const event = keystroke(0)
  let delivered = 0
  const handler = () => {
    delivered++
  }
  let emit: () => void
  if (kind === 'mitt') {
    const m = mitt<{ raw: typeof event }>()
    for (let i = 0; i < subscribers; i++) m.on('raw', handler)
    emit = () => m.emit('raw', event)
  } else if (kind === 'eventemitter3') {
    const e = new EventEmitter3()
    for (let i = 0; i < subscribers; i++) e.on('raw', handler)
    emit = () => e.emit('raw', event)
  } else {
    const e = new EventEmitter()
    e.setMaxListeners(0)
    for (let i = 0; i < subscribers; i++) e.on('raw', handler)
    emit = () => e.emit('raw', event)
  }
  const start = performance.now()
  for (let i = 0; i < total; i++) emit()
  if (delivered !== total * subscribers) throw new Error('lost events')
  return performance.now() - start
}

export const inProcess: CaseDefinition = {
  name: 'in-process',
  title: 'In process: publish → handler (deliveries/s)',
  variants: [
    'bus×1',
    'bus×8',
    'mitt×1',
    'mitt×8',
    'eventemitter3×1',
    'eventemitter3×8',
    'node:events×1',
    'node:events×8',
  ],
  async run(variant, { quick }) {
    const [kind, count] = variant.split('×') as [string, string]
    const subscribers = Number(count)
    const total = quick ? 20_000 : kind === 'bus' ? 1_000_000 : 2_000_000
    const run = (n: number) =>
      kind === 'bus' ? timeBus(subscribers, n) : Promise.resolve(emitter(kind, subscribers, n))
    await run(quick ? total : 1_000_000) // warm-up: until the optimizing compiler has run
    const ms = await run(total)
    return [throughput('deliveries/s', total * subscribers, ms)]
  },
}
