/**
 * A direct channel's terms, from fakes of the route, its endpoints and the bus: which of the
 * consumer's subscriptions the channel serves, how, and which routed types still go to the hub.
 * The direct-route tests hold the same rules across threads; these hold each one alone.
 */
import { describe, expect, it } from 'vitest'
import type { BusInternals } from '../../src/main/bus/internal.js'
import type { Subscription } from '../../src/main/bus/subscription.js'
import type { Route, RouteEndpoint } from '../../src/main/hub/route.js'
import { sameTerms, termsFor } from '../../src/main/hub/route-terms.js'
import { MessagePriority, ModuleId } from '../../src/shared/catalog.js'
import type { DeliveryMode } from '../../src/shared/delivery-mode.js'

const PRODUCER = ModuleId.DataCapture

interface FakeSubscription {
  id: string
  kind?: DeliveryMode['kind']
  types?: string[]
  sources?: string[]
  minPriority?: MessagePriority
  closed?: boolean
}

function subscription({
  id,
  kind = 'Reliable',
  types,
  sources,
  minPriority,
  closed = false,
}: FakeSubscription) {
  return {
    id,
    closed,
    mode: { kind },
    filter: {
      types: types === undefined ? undefined : new Set(types),
      sources: sources === undefined ? undefined : new Set(sources),
      minPriority,
    },
  } as unknown as Subscription
}

/**
 * The terms of a route for `types` (of delivery `mode`, when given) whose consumer has `mine` (each
 * with a handler timeout of 700 ms) and whose bus has `others` besides, for every type.
 */
function terms(
  types: string[],
  mine: Subscription[],
  others: Subscription[] = [],
  mode?: DeliveryMode['kind'],
) {
  const route = { types, mode } as unknown as Route
  const producer = { module: PRODUCER } as unknown as RouteEndpoint
  const consumer = {
    module: ModuleId.Storage,
    remoteSubscriptions: () => mine.map((each) => ({ subscription: each, handlerTimeoutMs: 700 })),
  } as unknown as RouteEndpoint
  const internals = { subscribersOf: () => [...mine, ...others] } as unknown as BusInternals
  return termsFor(route, producer, consumer, 3, internals)
}

describe('a direct channel’s terms', () => {
  it('serve each open subscription of the consumer that matches a routed type, with what the producer needs', () => {
    const reliable = subscription({
      id: 'r',
      types: ['RawEvent', 'StateChange'],
      minPriority: MessagePriority.High,
    })
    const bestEffort = subscription({ id: 'b', kind: 'BestEffort', sources: [PRODUCER] })
    const { terms: made, covered } = terms(['RawEvent'], [reliable, bestEffort])
    expect(made).toEqual({
      seq: 3,
      targets: [
        { sid: 'r', types: ['RawEvent'], minPriority: MessagePriority.High, reliable: true, timeoutMs: 700 },
        { sid: 'b', types: ['RawEvent'], reliable: false, timeoutMs: 700 },
      ],
      shared: [],
    })
    expect([...covered]).toEqual([reliable, bestEffort])
  })

  it('leave out closed, LatestOnly, other-source and other-type subscriptions, and those of another mode than the route’s', () => {
    const left = [
      subscription({ id: 'closed', closed: true }),
      subscription({ id: 'latest', kind: 'LatestOnly' }),
      subscription({ id: 'elsewhere', sources: [ModuleId.Gamification] }),
      subscription({ id: 'other-type', types: ['StateChange'] }),
    ]
    expect(terms(['RawEvent'], left).terms.targets).toEqual([])
    const bestEffort = subscription({ id: 'b', kind: 'BestEffort' })
    const reliable = subscription({ id: 'r' })
    expect(
      terms(['RawEvent'], [bestEffort, reliable], [], 'Reliable').terms.targets.map(({ sid }) => sid),
    ).toEqual(['r'])
  })

  it('send the hub a copy of the types an open subscription it does not serve also takes from the producer', () => {
    const mine = subscription({ id: 'r' })
    const noCopy = [
      subscription({ id: 'closed', closed: true }),
      subscription({ id: 'elsewhere', sources: [ModuleId.Gamification] }),
    ]
    expect(terms(['RawEvent'], [mine], noCopy).terms.shared).toEqual([])
    const other = subscription({ id: 'o', sources: [PRODUCER] })
    expect(terms(['RawEvent', 'StateChange'], [mine], [other]).terms.shared).toEqual([
      'RawEvent',
      'StateChange',
    ])
    // The consumer's own LatestOnly subscription stays on the hub path: it needs the hub's copy.
    const latest = subscription({ id: 'latest', kind: 'LatestOnly' })
    expect(terms(['RawEvent'], [mine, latest]).terms.shared).toEqual(['RawEvent'])
  })
})

describe('sameTerms', () => {
  const target = { sid: 'r', types: ['RawEvent'], reliable: true, timeoutMs: 700 }
  it('compares what is served and shared, not the sequence number', () => {
    expect(
      sameTerms({ seq: 1, targets: [target], shared: [] }, { seq: 2, targets: [target], shared: [] }),
    ).toBe(true)
    expect(
      sameTerms(
        { seq: 1, targets: [target], shared: [] },
        { seq: 1, targets: [{ ...target, timeoutMs: 5 }], shared: [] },
      ),
    ).toBe(false)
    expect(
      sameTerms({ seq: 1, targets: [], shared: [] }, { seq: 1, targets: [], shared: ['RawEvent'] }),
    ).toBe(false)
  })
})
