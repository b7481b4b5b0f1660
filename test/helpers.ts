/** Shared test fixtures: one valid payload per built-in type, and ways to let the bus settle. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, afterEach, expect, onTestFinished, vi } from 'vitest'
import {
  BusMessage,
  type DataOf,
  type EventBus,
  MessagePayload,
  MessagePriority,
  type MessageType,
  ModuleId,
} from '../src/main/bus/index.js'

const at = new Date('2026-11-30T12:00:00Z')
const id = () => crypto.randomUUID()

export function rawEvent(overrides: Partial<DataOf<'RawEvent'>> = {}): DataOf<'RawEvent'> {
  return {
    eventType: 'keystroke',
    data: { key: 'a', code: 65 },
    windowTitle: 'Editor',
    timestamp: at,
    ...overrides,
  }
}

/** A valid data value for every built-in type. */
export const validData: { [K in MessageType]: () => DataOf<K> } = {
  RawEvent: () => rawEvent(),
  EventBatch: () => ({ windowStart: at, windowEnd: at, events: [rawEvent()], sessionId: id() }),
  StorageStatus: () => ({ totalEvents: 10, storageSizeBytes: 2048, lastBatchTime: at }),
  AnalysisComplete: () => ({ windowId: id(), state: 'focused', confidence: 0.9, startTime: at, endTime: at }),
  StateChange: () => ({ state: 'focused', confidence: 1, timestamp: at, transitionFrom: 'idle' }),
  InterventionRequest: () => ({
    requestId: id(),
    interventionType: 'break',
    urgency: 'low',
    context: { minutes: 50 },
  }),
  RewardEvent: () => ({
    rewardId: id(),
    rewardType: 'streak',
    points: 5,
    description: 'Five focused minutes',
  }),
  InterventionResponse: () => ({ requestId: id(), responseText: 'Stretch!', animationCues: ['wave'] }),
  AnimationCommand: () => ({
    commandId: id(),
    animationType: 'wave',
    parameters: { speed: 2 },
    durationMs: 500,
  }),
  HealthCheck: () => ({ moduleId: ModuleId.Storage, timestamp: at }),
  ConfigUpdate: () => ({ configKey: 'rate', configValue: 10, targetModule: ModuleId.DataCapture }),
  Shutdown: () => ({ moduleId: ModuleId.Storage, timeoutMs: 1000, saveState: true }),
  ModuleReady: () => ModuleId.Storage,
  Error: () => ({
    errorId: id(),
    errorType: 'Io',
    message: 'disk full',
    module: ModuleId.Storage,
    timestamp: at,
  }),
}

/** Publishes `module`'s ModuleReady on `bus`, as its runner does once the module has started. */
export function publishModuleReady(bus: EventBus, module: string): Promise<string> {
  return bus.publish(BusMessage.create(module, MessagePayload.ModuleReady(module)))
}

/** A RawEvent from DataCapture, at the given priority. */
export function rawMessage(
  priority: MessagePriority = MessagePriority.Normal,
  overrides: Partial<DataOf<'RawEvent'>> = {},
) {
  return BusMessage.withPriority(ModuleId.DataCapture, MessagePayload.RawEvent(rawEvent(overrides)), priority)
}

/** A DataCapture RawEvent envelope whose `payload.data` is `data`, whatever it is: what a peer may send. */
export function envelopeWithData(data: unknown) {
  return { ...rawMessage(), payload: { type: 'RawEvent', data } }
}

/** Envelopes a peer may send, valid or not, with `data` as their payload's data. */
export function arbitraryEnvelope(data: fc.Arbitrary<unknown>, types: string[] = ['RawEvent', 'Nope']) {
  return fc.record(
    {
      id: fc.uuid(),
      timestamp: fc.date({ noInvalidDate: true }),
      source: fc.constantFrom(...Object.values(ModuleId)),
      payload: fc.record({ type: fc.constantFrom(...types), data }),
      priority: fc.integer({ min: -1, max: 4 }),
      correlationId: fc.option(fc.uuid(), { nil: undefined }),
    },
    { requiredKeys: ['id', 'timestamp', 'source', 'payload'] },
  )
}

/** `value`'s own keys in order, down through plain objects and arrays (a clone keeps the order). */
export function keyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keyOrder)
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return null
  return Object.keys(value).map((key) => [key, keyOrder((value as Record<string, unknown>)[key])])
}

/** Lets queued microtasks (deliveries of sync or already-settled handlers) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}

/**
 * Registers a hook that shuts down, after each test, every bus handed to the function it returns
 * (which gives the bus back): a test that ends, or fails, midway leaves no bus running into the
 * next. Call it at a file's top level; a `describe`'s own `afterEach` (real timers again) runs first.
 */
export function shutDownAfterEach(): <B extends Pick<EventBus, 'shutdown'>>(bus: B) => B {
  const buses: Pick<EventBus, 'shutdown'>[] = []
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.shutdown({ drainTimeoutMs: 0 })
  })
  return (bus) => {
    buses.push(bus)
    return bus
  }
}

/**
 * Registers a hook that removes, once the file's tests have run, every folder the function it
 * returns made: each fresh under the system's temporary folder, named `skelly-<name>-…`. A test
 * run then leaves nothing behind there, however its tests ended (left, they pile up by the
 * hundred a run). Call it at a file's top level.
 */
export function tempDirsRemovedAfterAll(name: string): () => Promise<string> {
  const made: string[] = []
  afterAll(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `skelly-${name}-`))
    made.push(dir)
    return dir
  }
}

/** The runtime's own `performance`, which `src/shared/clock.ts` reads: fake timers replace the global. */
const runtimePerformance = globalThis.performance

/**
 * Fake timers, and the monotonic clock the code reads (`monotonicMs`) following them. With fake
 * timers alone that clock runs in real time: a deadline taken from it (a drain's) then shrinks by
 * however long a loaded machine takes between two steps of a test, and fires before its timer.
 * Both are real again once the test has finished, its `afterEach` hooks run.
 */
export function useFakeClock(): void {
  vi.useFakeTimers()
  const fakePerformance = globalThis.performance
  const clock = vi.spyOn(runtimePerformance, 'now').mockImplementation(() => fakePerformance.now())
  onTestFinished(() => {
    clock.mockRestore()
    vi.useRealTimers()
  })
}

/** With fake timers: lets time pass and everything it triggers run. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
}

/** What `act` threw, for assertions on its kind and fields (and on state after the throw). */
export function thrownBy(act: () => unknown): unknown {
  try {
    act()
  } catch (error) {
    return error
  }
  throw new Error('nothing was thrown')
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Keeps this thread busy for `ms`, as a long synchronous task, a debugger pause or a machine
 * asleep would keep it away: nothing else on it runs meanwhile, and what other threads send waits.
 */
export function stallThisThread(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

/** Waits (real time) until `condition` holds, polling; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Asserts the accounting invariant on every subscription: routed = delivered + dropped + coalesced + dead-lettered. */
export async function expectAccounted(bus: EventBus): Promise<void> {
  const metrics = await bus.metrics()
  for (const sub of metrics.subscriptions) {
    const accounted = sub.delivered + sub.dropped + sub.coalesced + sub.deadLettered
    if (sub.routed !== accounted) {
      throw new Error(`subscription ${sub.id} (${sub.mode}): routed ${sub.routed} != accounted ${accounted}`)
    }
  }
}

/** A promise with its resolve and reject exposed. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A handler result that looks like a promise but whose `then` throws `error` (a broken thenable). */
export function thenThatThrows(error: Error): PromiseLike<never> {
  return {
    // biome-ignore lint/suspicious/noThenProperty: the point is a broken thenable
    then: () => {
      throw error
    },
  }
}

/** A handler result whose `then` getter throws `error`: telling it from a value already throws. */
export function thenGetterThatThrows(error: Error): unknown {
  return Object.defineProperty({}, 'then', {
    get() {
      throw error
    },
  })
}

/** A function that is also a thenable, whose `then` rejects with `error`: a promise-like all the same. */
function callableThenRejecting(error: Error): PromiseLike<never> {
  return Object.assign(() => undefined, {
    // biome-ignore lint/suspicious/noThenProperty: the point is a thenable that is a function
    then: (_resolve: unknown, reject: (reason: unknown) => void) => reject(error),
  }) as unknown as PromiseLike<never>
}

/** Handler results that are no promise, however they look: each settles its delivery at once. */
const PLAIN_RESULTS: Readonly<Record<string, unknown>> = {
  null: null,
  zero: 0,
  'empty string': '',
  'object without then': { done: true },
  // biome-ignore lint/suspicious/noThenProperty: a `then` that is no function makes no thenable
  'then that is no function': { then: 'later' },
  'function without then': () => undefined,
}

/** One message's name for each plain result, and `callable` for a function with a `then` that rejects. */
export const RESULT_NAMES = [...Object.keys(PLAIN_RESULTS), 'callable']

/** What a handler returns for the message named `name` (one of {@link RESULT_NAMES}). */
export function resultNamed(name: string): Promise<void> {
  return (
    name === 'callable' ? callableThenRejecting(new RangeError('callable then')) : PLAIN_RESULTS[name]
  ) as Promise<void>
}

/**
 * Expects what a Reliable subscription (no retries) handed {@link RESULT_NAMES} made of them: every
 * plain result delivered, the callable thenable awaited and its rejection dead-lettered.
 */
export async function expectResultsSettled(bus: EventBus): Promise<void> {
  const [subscription] = (await bus.metrics()).subscriptions
  expect({ delivered: subscription?.delivered, failed: subscription?.failed }).toEqual({
    delivered: RESULT_NAMES.length - 1,
    failed: 1,
  })
  expect(bus.deadLetters.list().map((entry) => entry.lastError)).toEqual(['RangeError: callable then'])
  await expectAccounted(bus)
}

/** How a test handler ends: at once, by throwing, by rejecting, never, after 15 ms, or with a broken thenable. */
export type HandlerBehaviour = 'ok' | 'throw' | 'reject' | 'hang' | 'slow' | 'broken-then'

/** What a handler behaving as `behaviour` does: throws, or returns its result. */
export function behave(behaviour: HandlerBehaviour): unknown {
  switch (behaviour) {
    case 'throw':
      throw new Error('thrown')
    case 'reject':
      return Promise.reject(new Error('rejected'))
    case 'hang':
      return new Promise(() => {})
    case 'slow':
      return new Promise((resolve) => setTimeout(resolve, 15))
    case 'broken-then':
      return thenThatThrows(new Error('broken then'))
    default:
      return undefined
  }
}

/** Values of every kind a sender could put anywhere in a message, odd ones included. */
export const anyValue = fc.anything({
  withDate: true,
  withMap: true,
  withSet: true,
  withBigInt: true,
  withNullPrototype: true,
  withTypedArray: true,
  withSparseArray: true,
  withBoxedValues: true,
  withObjectString: true,
})
