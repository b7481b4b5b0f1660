/**
 * What an endpoint's handler returns is settled as the bus settles it: a thrown error, a rejection
 * or a broken thenable (its `then`, or a `then` getter, throws) is one failed attempt, told to the
 * hub at once; the endpoint keeps running and nothing escapes as an uncaught error.
 */
import { describe, expect, it } from 'vitest'
import { DeliveryMode, MessageFilter, MessagePriority, ModuleId } from '../../src/main/bus/index.js'
import {
  expectAccounted,
  expectResultsSettled,
  RESULT_NAMES,
  rawMessage,
  resultNamed,
  thenGetterThatThrows,
  thenThatThrows,
  waitFor,
} from '../helpers.js'
import { connectClient, startHub } from './fixture.js'

/** A RawEvent from DataCapture named `eventType`. */
const raw = (eventType: string) => rawMessage(MessagePriority.Normal, { eventType })

/** A result broken the way `name` says, else the one `name` names in RESULT_NAMES (nothing for any other). */
function resultFor(name: string): unknown {
  if (name === 'then-throws') return thenThatThrows(new RangeError('then throws'))
  if (name === 'getter-throws') return thenGetterThatThrows(new RangeError('then getter throws'))
  return resultNamed(name)
}

describe('handler results at an endpoint', () => {
  it('count a broken thenable as one failed attempt, at once, and keep delivering', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 0 })
    const storage = await connectClient(hub, ModuleId.Storage)
    const seen: string[] = []
    // A long timeout: the failures must come from the endpoint, not from the hub's ack sweep.
    await storage.subscribe(
      ModuleId.Storage,
      { types: ['RawEvent'] },
      DeliveryMode.Reliable({ timeoutMs: 30_000 }),
      (message) => {
        seen.push(message.payload.data.eventType)
        return resultFor(message.payload.data.eventType) as Promise<void>
      },
    )
    for (const name of ['then-throws', 'getter-throws', 'fine']) await bus.publish(raw(name))
    await waitFor(() => bus.deadLetters.list().length === 2, 2_000)
    expect(seen).toEqual(['then-throws', 'getter-throws', 'fine'])
    expect(
      bus.deadLetters
        .list()
        .map((entry) => entry.lastError)
        .sort(),
    ).toEqual(['RangeError: then getter throws', 'RangeError: then throws'])
    await waitFor(async () => (await bus.metrics()).subscriptions[0]?.delivered === 1)
    await expectAccounted(bus)
  })

  it('count a result that is no promise (null, 0, a `then` that is no function…) as delivered, and await a thenable function', async () => {
    const { bus, hub } = await startHub({ maxRetryAttempts: 0 })
    const storage = await connectClient(hub, ModuleId.Storage)
    await storage.subscribe(
      ModuleId.Storage,
      { types: ['RawEvent'] },
      DeliveryMode.Reliable({ timeoutMs: 30_000 }),
      (message) => resultFor(message.payload.data.eventType) as Promise<void>,
    )
    for (const name of RESULT_NAMES) await bus.publish(raw(name))
    await waitFor(async () => {
      const [subscription] = (await bus.metrics()).subscriptions
      return (subscription?.delivered ?? 0) + (subscription?.failed ?? 0) === RESULT_NAMES.length
    }, 2_000)
    await expectResultsSettled(bus)
  })

  it('hand every handler and predicate the envelope and payload frozen, as the bus does in process', async () => {
    const { bus, hub } = await startHub()
    const storage = await connectClient(hub, ModuleId.Storage)
    const seen: unknown[] = []
    const frozen = (message: { payload: unknown }) => [
      Object.isFrozen(message),
      Object.isFrozen(message.payload),
    ]
    // Two subscriptions at one endpoint may get the one decoded message: neither can change it for the other.
    await storage.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']).withPredicate((message) => {
        seen.push(['predicate', ...frozen(message)])
        return true
      }),
      DeliveryMode.BestEffort,
      (message) => {
        const changes = [
          () => Object.assign(message, { priority: MessagePriority.Critical }),
          () => Object.assign(message.payload, { type: 'StateChange' }),
        ].map((change) => {
          try {
            change()
            return 'changed'
          } catch (error) {
            return (error as Error).name
          }
        })
        seen.push(['first', ...frozen(message), ...changes])
      },
    )
    await storage.subscribe(ModuleId.Storage, { types: ['RawEvent'] }, DeliveryMode.BestEffort, (message) => {
      seen.push(['second', message.priority, message.payload.type])
    })
    await bus.publish(raw('frozen'))
    await waitFor(() => seen.length === 3)
    expect(seen).toEqual(
      expect.arrayContaining([
        ['predicate', true, true],
        ['first', true, true, 'TypeError', 'TypeError'],
        ['second', MessagePriority.Normal, 'RawEvent'],
      ]),
    )
  })
})
