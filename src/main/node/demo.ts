/**
 * A console demo of the core bus: a few subscribers of each delivery mode, a steady stream of
 * RawEvents into a Storage subscriber that fails 2 % of its writes (retried), and the metrics printed
 * once a second.
 *
 * Usage: npm run demo [-- [SECONDS] [RATE]] (defaults: 5 s, 500 RawEvents/s)
 */
import {
  BusMessage,
  createEventBus,
  DeliveryMode,
  MessageFilter,
  MessagePayload,
  MessagePriority,
  ModuleId,
} from '../bus/index.js'
import { durationAndRate, parseCommandLine, readCommandLine } from './command-line.js'

const { seconds, rate: ratePerSecond } = readCommandLine(
  'npm run demo [-- [SECONDS] [RATE]] (defaults: 5 s, 500 RawEvents/s)',
  () =>
    durationAndRate(parseCommandLine({ args: process.argv.slice(2), allowPositionals: true }).positionals, {
      seconds: 5,
      rate: 500,
    }),
)

const bus = createEventBus({ maxRetryAttempts: 2, retry: { initialMs: 20, maxMs: 200 } })
await bus.start()

let stored = 0
await bus.subscribe(
  ModuleId.Storage,
  MessageFilter.types(['RawEvent']),
  DeliveryMode.Reliable({ timeoutMs: 500 }),
  async () => {
    if (Math.random() < 0.02) throw new Error('simulated write failure')
    stored++
  },
)
await bus.subscribe(
  ModuleId.AnalysisEngine,
  MessageFilter.types(['RawEvent']),
  DeliveryMode.BestEffort,
  () => {},
)
await bus.subscribe(ModuleId.CuteFigurine, { types: ['StateChange'] }, DeliveryMode.LatestOnly, () => {})

const keys = ['h', 'e', 'l', 'l', 'o']
let sent = 0
const publisher = setInterval(() => {
  for (let i = 0; i < ratePerSecond / 20; i++) {
    const key = keys[sent++ % keys.length] ?? 'x'
    const event = { eventType: 'keystroke', data: { key }, windowTitle: 'Editor', timestamp: new Date() }
    void bus.publish(BusMessage.create(ModuleId.DataCapture, MessagePayload.RawEvent(event)))
  }
  const state = sent % 400 < 200 ? 'focused' : 'distracted'
  void bus.publish(
    BusMessage.withPriority(
      ModuleId.AnalysisEngine,
      MessagePayload.StateChange({ state, confidence: 0.8, timestamp: new Date() }),
      MessagePriority.High,
    ),
  )
}, 50)

const format = (ms: number) => `${ms.toFixed(3)} ms`
const reporter = setInterval(async () => {
  const m = await bus.metrics()
  console.log(
    `published ${m.messagesPublished}  delivered ${m.messagesDelivered}  failed ${m.messagesFailed}  ` +
      `retried ${m.messagesRetried}  coalesced ${m.messagesCoalesced}  dead-lettered ${m.messagesDeadLettered}  ` +
      `queue ${m.currentQueueDepth}  p50 ${format(m.deliveryLatency.p50Ms)}  p99 ${format(m.deliveryLatency.p99Ms)}  ` +
      `${Math.round(m.throughputPerSec)}/s`,
  )
}, 1000)

setTimeout(async () => {
  clearInterval(publisher)
  clearInterval(reporter)
  await bus.shutdown({ drainTimeoutMs: 1000 })
  const m = await bus.metrics()
  console.log(
    `\nstored ${stored} events; ${m.deadLetters.size} dead letters (reasons: ${[...new Set(bus.deadLetters.list().map((e) => e.reason))].join(', ') || 'none'})`,
  )
  console.table(
    m.subscriptions.length > 0
      ? m.subscriptions
      : Object.entries(m.modules).map(([module, c]) => ({ module, ...c })),
  )
}, seconds * 1000)
