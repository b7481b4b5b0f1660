/**
 * The bus's configuration: defaults, environment overrides and validation. Precedence is code,
 * then environment, then defaults; every invalid value throws `Configuration` naming the field or
 * variable and the accepted range.
 */

import { z } from 'zod'
import { LONGEST_WAIT_MS } from '../../shared/clock.js'
import {
  configurationError,
  currentEnvironment,
  type Environment,
  readIntegerVariable,
  readPositiveVariable,
} from '../../shared/environment.js'
import { describeValue } from '../../shared/errors.js'

function integerIn(min: number, max: number) {
  const accepted = `an integer from ${min} to ${max}`
  return z.number({ error: accepted }).int(accepted).min(min, accepted).max(max, accepted)
}

function numberIn(min: number, max: number, exclusiveMin = false) {
  const accepted = `a number ${exclusiveMin ? 'above' : 'from'} ${min}${exclusiveMin ? ' up to' : ' to'} ${max}`
  const base = z.number({ error: accepted }).finite(accepted).max(max, accepted)
  return exclusiveMin ? base.gt(min, accepted) : base.min(min, accepted)
}

const retrySchema = z
  .object({
    initialMs: numberIn(0, LONGEST_WAIT_MS).default(100),
    maxMs: numberIn(0, LONGEST_WAIT_MS).default(30_000),
    multiplier: numberIn(1, 1000).default(2),
    jitter: numberIn(0, 1).default(0.1),
  })
  .strict()
  .refine((retry) => retry.maxMs >= retry.initialMs, {
    message: 'at least retry.initialMs',
    path: ['maxMs'],
  })

/**
 * The bus's configuration with its defaults and accepted ranges (BUS-API.md, *Configuration*): what
 * `createEventBus(config)` checks, and what `bus.config` holds once resolved.
 */
export const eventBusConfigSchema = z
  .object({
    /** Per-subscription queue bound (messages). */
    maxQueueSize: integerIn(1, 10_000_000).default(10_000),
    /** Upper bound on any handler's run time, in every mode. */
    deliveryTimeoutMs: numberIn(0, LONGEST_WAIT_MS, true).default(5_000),
    /** Retries after the first failed Reliable attempt, before dead-lettering. */
    maxRetryAttempts: integerIn(0, 1000).default(3),
    /** Dead-letter queue capacity; the oldest entry is evicted (and counted) beyond it. */
    deadLetterQueueSize: integerIn(1, 10_000_000).default(1_000),
    /** How often metrics streams are fed. */
    metricsIntervalMs: integerIn(10, 3_600_000).default(1_000),
    /** Handlers slower than this are counted per subscription. */
    slowHandlerThresholdMs: numberIn(0, LONGEST_WAIT_MS).default(100),
    /** Deliveries a subscription may have in flight at once (LatestOnly always has one). */
    workers: integerIn(1, 1024).default(4),
    retry: retrySchema.default({ initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.1 }),
    /** Largest accepted message, as UTF-8 bytes of its JSON encoding. */
    maxMessageBytes: integerIn(64, 256 * 1024 * 1024).default(1024 * 1024),
  })
  .strict()

/** The bus's resolved configuration (every field present). */
export type EventBusConfig = z.output<typeof eventBusConfigSchema>
/** What callers may pass: any subset, `retry` partially too. */
export type EventBusConfigInput = Omit<Partial<EventBusConfig>, 'retry'> & {
  retry?: Partial<EventBusConfig['retry']>
}

/** The overrides the environment sets, read now (each call sees the current environment). */
export function configFromEnvironment(env: Environment = currentEnvironment()): EventBusConfigInput {
  const overrides: EventBusConfigInput = {}
  const maxQueueSize = readIntegerVariable(env, 'SKELLY_EVENT_BUS_QUEUE_SIZE', 1, 10_000_000)
  const workers = readIntegerVariable(env, 'SKELLY_EVENT_BUS_WORKERS', 1, 1024)
  const timeoutSeconds = readPositiveVariable(
    env,
    'SKELLY_EVENT_BUS_TIMEOUT',
    LONGEST_WAIT_MS / 1000,
    'seconds',
  )
  const deliveryTimeoutMs = timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000
  if (maxQueueSize !== undefined) overrides.maxQueueSize = maxQueueSize
  if (workers !== undefined) overrides.workers = workers
  if (deliveryTimeoutMs !== undefined) overrides.deliveryTimeoutMs = deliveryTimeoutMs
  return overrides
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>
}

/**
 * Checks that what `createEventBus` was given is an object before anything takes it apart (taking
 * `null` apart throws a TypeError that says nothing of the configuration).
 * @throws EventBusError `Configuration`
 */
export function assertConfigObject<T>(options: T): asserts options is T & object {
  if (options === null || typeof options !== 'object')
    throw configurationError('the configuration must be an object')
}

/**
 * Resolves the configuration: code over environment over defaults, validated, frozen.
 * @throws EventBusError `Configuration`
 */
export function resolveConfig(code: EventBusConfigInput = {}, env?: Environment): Readonly<EventBusConfig> {
  assertConfigObject(code)
  const fromEnv = configFromEnvironment(env)
  const merged: Record<string, unknown> = { ...fromEnv, ...withoutUndefined(code) }
  if (code.retry !== undefined) {
    merged.retry =
      typeof code.retry === 'object' && code.retry !== null ? withoutUndefined(code.retry) : code.retry
  }
  const parsed = eventBusConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.join('.') || 'config'
    const got = issue?.path.reduce<unknown>(
      (value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key],
      merged,
    )
    const detail = issue?.code === 'unrecognized_keys' ? issue.message : `${path} must be ${issue?.message}`
    throw configurationError(`${detail}${got === undefined ? '' : ` (got ${describeValue(got)})`}`)
  }
  const config = parsed.data
  Object.freeze(config.retry)
  return Object.freeze(config)
}
