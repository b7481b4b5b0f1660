import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { createEventBus, EventBusError, resolveConfig } from '../../src/main/bus/index.js'

function configurationError(run: () => unknown): EventBusError & { kind: 'Configuration' } {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(EventBusError)
    expect((error as EventBusError).kind).toBe('Configuration')
    return error as EventBusError & { kind: 'Configuration' }
  }
  throw new Error('expected a Configuration error')
}

describe('configuration', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('has the documented defaults', () => {
    expect(resolveConfig({}, {})).toEqual({
      maxQueueSize: 10_000,
      deliveryTimeoutMs: 5_000,
      maxRetryAttempts: 3,
      deadLetterQueueSize: 1_000,
      metricsIntervalMs: 1_000,
      slowHandlerThresholdMs: 100,
      workers: 4,
      retry: { initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.1 },
      maxMessageBytes: 1024 * 1024,
    })
  })

  it('exposes the resolved config read-only on the bus', () => {
    const bus = createEventBus({ workers: 2, retry: { initialMs: 5 } })
    expect(bus.config.workers).toBe(2)
    expect(bus.config.retry).toEqual({ initialMs: 5, maxMs: 30_000, multiplier: 2, jitter: 0.1 })
    expect(Object.isFrozen(bus.config)).toBe(true)
  })

  it('reads the three environment variables at each createEventBus call', () => {
    vi.stubEnv('SKELLY_EVENT_BUS_QUEUE_SIZE', '50')
    vi.stubEnv('SKELLY_EVENT_BUS_WORKERS', '8')
    vi.stubEnv('SKELLY_EVENT_BUS_TIMEOUT', '1.5')
    expect(createEventBus().config).toMatchObject({ maxQueueSize: 50, workers: 8, deliveryTimeoutMs: 1500 })
    vi.stubEnv('SKELLY_EVENT_BUS_WORKERS', '3')
    expect(createEventBus().config.workers).toBe(3)
  })

  it('gives code precedence over the environment', () => {
    vi.stubEnv('SKELLY_EVENT_BUS_QUEUE_SIZE', '50')
    expect(createEventBus({ maxQueueSize: 7 }).config.maxQueueSize).toBe(7)
    expect(createEventBus({ maxQueueSize: undefined }).config.maxQueueSize).toBe(50)
  })

  it('treats an empty variable as unset', () => {
    vi.stubEnv('SKELLY_EVENT_BUS_WORKERS', '')
    vi.stubEnv('SKELLY_EVENT_BUS_TIMEOUT', '  ')
    expect(createEventBus().config).toMatchObject({ workers: 4, deliveryTimeoutMs: 5000 })
  })

  it.each([
    ['SKELLY_EVENT_BUS_QUEUE_SIZE', '0', 'from 1 to 10000000'],
    ['SKELLY_EVENT_BUS_QUEUE_SIZE', '10000001', 'from 1 to 10000000'],
    ['SKELLY_EVENT_BUS_QUEUE_SIZE', '12abc', 'from 1 to 10000000'],
    ['SKELLY_EVENT_BUS_WORKERS', '1025', 'from 1 to 1024'],
    ['SKELLY_EVENT_BUS_WORKERS', '2.5', 'from 1 to 1024'],
    ['SKELLY_EVENT_BUS_TIMEOUT', '0', 'seconds above 0'],
    ['SKELLY_EVENT_BUS_TIMEOUT', '-1', 'seconds above 0'],
    ['SKELLY_EVENT_BUS_TIMEOUT', 'soon', 'seconds above 0'],
  ])('refuses %s=%s naming the variable and range', (name, value, range) => {
    vi.stubEnv(name, value)
    const error = configurationError(() => createEventBus())
    expect(error.reason).toContain(name)
    expect(error.reason).toContain(range)
  })

  it.each([
    [{ maxQueueSize: 0 }, 'maxQueueSize', 'from 1 to 10000000'],
    [{ workers: 2000 }, 'workers', 'from 1 to 1024'],
    [{ deliveryTimeoutMs: 0 }, 'deliveryTimeoutMs', 'above 0'],
    [{ maxRetryAttempts: -1 }, 'maxRetryAttempts', 'from 0'],
    [{ retry: { jitter: 2 } }, 'retry.jitter', 'from 0 to 1'],
    [{ retry: { initialMs: 500, maxMs: 100 } }, 'retry.maxMs', 'at least retry.initialMs'],
    [{ maxQueueSize: '10' }, 'maxQueueSize', 'integer'],
  ])('refuses %j naming the field', (config, field, range) => {
    const error = configurationError(() => createEventBus(config as never))
    expect(error.reason).toContain(field)
    expect(error.reason).toContain(range)
  })

  it('says what a field must be and what it got, in full', () => {
    expect(configurationError(() => createEventBus({ maxQueueSize: 0 })).reason).toBe(
      'maxQueueSize must be an integer from 1 to 10000000 (got 0)',
    )
    expect(configurationError(() => createEventBus({ queueSize: 3 } as never)).reason).toBe(
      'Unrecognized key: "queueSize" (got {"queueSize":3})',
    )
    // What JSON cannot write is said all the same, never a TypeError of its own.
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const indescribable = { toJSON: () => 1n, toString: () => Symbol() }
    const said = (config: unknown) => configurationError(() => createEventBus(config as never)).reason
    const mustBe = 'maxQueueSize must be an integer from 1 to 10000000'
    expect(said({ maxQueueSize: 10n })).toBe(`${mustBe} (got 10)`)
    expect(said({ maxQueueSize: Symbol('size') })).toBe(`${mustBe} (got Symbol(size))`)
    expect(said({ maxQueueSize: circular })).toBe(`${mustBe} (got [object Object])`)
    expect(said({ maxQueueSize: indescribable })).toBe(
      `${mustBe} (got a value that cannot be described (reading it as text threw))`,
    )
  })

  it('refuses a configuration that is no object, and takes a retry whose longest wait is its first', () => {
    for (const config of [null, 5, 'fast'])
      expect(configurationError(() => createEventBus(config as never)).reason).toBe(
        'the configuration must be an object',
      )
    const bus = createEventBus({ retry: { initialMs: 250, maxMs: 250 } })
    expect(bus.config.retry).toMatchObject({ initialMs: 250, maxMs: 250 })
    // Resolved once, for good: neither the configuration nor its retry can be changed afterwards.
    expect(Object.isFrozen(bus.config)).toBe(true)
    expect(Object.isFrozen(bus.config.retry)).toBe(true)
  })

  it('refuses unknown fields and bad catalogs', () => {
    expect(configurationError(() => createEventBus({ queueSize: 3 } as never)).reason).toContain('queueSize')
    expect(configurationError(() => createEventBus({ catalog: { RawEvent: {} } } as never)).reason).toContain(
      'built-in',
    )
    expect(configurationError(() => createEventBus({ catalog: { Custom: 42 } } as never)).reason).toContain(
      'zod schema',
    )
    for (const catalog of [null, 5, 'app.Ping', [], [z.object({})]])
      expect(configurationError(() => createEventBus({ catalog } as never)).reason).toBe(
        'catalog must be an object of { [type]: zodSchema }',
      )
    // A letter first, then up to 127 of letters, digits and _ . : - (the longest name allowed passes).
    expect(() => createEventBus({ catalog: { [`A${'b'.repeat(127)}`]: z.object({}) } })).not.toThrow()
    for (const name of ['', '9lives', 'has space', 'app/Ping', `A${'b'.repeat(128)}`])
      expect(configurationError(() => createEventBus({ catalog: { [name]: z.object({}) } })).reason).toBe(
        `catalog: '${name}' is not a valid type name (^[A-Za-z][A-Za-z0-9_.:-]{0,127}$)`,
      )
  })

  it('hands out its catalog frozen, with or without types of the app’s: a type added later would be checked by nothing', () => {
    for (const bus of [createEventBus(), createEventBus({ catalog: { 'app.Ping': z.object({}) } })]) {
      expect(Object.isFrozen(bus.catalog)).toBe(true)
      expect(() => {
        ;(bus.catalog as Record<string, unknown>)['app.Sneaked'] = z.any()
      }).toThrow(TypeError)
      expect(() => {
        ;(bus.catalog as Record<string, unknown>).RawEvent = z.any()
      }).toThrow(TypeError)
    }
    // The built-in catalog every bus starts from is as it was.
    expect(Object.keys(createEventBus().catalog)).toHaveLength(14)
  })
})
