/**
 * The wire protocol between the hub and its endpoints (version 1). Frames travel in batches: one
 * unit on the port is an array of frames. The schemas here are what the hub validates every
 * inbound frame against; docs/protocol.md describes the same frames for other languages.
 */
import { z } from 'zod'
import { isModuleId, moduleIdSchema } from './catalog.js'
import { deliveryModeSchema } from './delivery-mode.js'
import { eventBusErrorDataSchema } from './errors.js'
import { MAX_FAILURE_TEXT } from './failure-text.js'
import { plainFilterSchema } from './filter.js'
import { MAX_LATENCY_MICROS, MAX_LATENCY_SLOTS } from './latency-tally.js'
import type { Envelope } from './message.js'
import { inspectorStreamNameSchema } from './metrics-snapshot.js'
import { subscriptionLabelSchema } from './subscribe-arguments.js'

/** The hub–endpoint protocol's version, exchanged in hello/welcome: a mismatch ends the connection. */
export const PROTOCOL_VERSION = 1

/** Messages in one batched frame (`pubs`, `dlvs`) at most. */
export const MAX_BATCH = 4096

/** Largest request id; ids wrap around below it. */
const requestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const deliveryId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const subscriptionId = z.string().min(1).max(128)
const typeName = z.string().min(1).max(128)
/** A direct channel's id: one per establishment of a route. */
const channelId = z.string().min(1).max(128)
/** The longest reason an endpoint's report about a direct channel may give. */
export const MAX_REASON_LENGTH = 1024

/** A message in a frame; the bus validates it fully when it is published. */
const message = z.custom<Envelope>((value) => typeof value === 'object' && value !== null, {
  error: 'msg must be a message object',
})

export const messageTypeListSchema = z.union([z.literal('*'), z.array(z.string().min(1).max(128)).max(1024)])

/** What an attachment may do; chosen by the main process, never by the endpoint. */
export const permissionsSchema = z
  .object({
    publish: messageTypeListSchema,
    subscribe: messageTypeListSchema,
    inspect: z.boolean().optional(),
  })
  .strict()
/** `{ publish, subscribe, inspect? }`: the message types (or `'*'`) an endpoint may publish and subscribe to, and whether it may inspect. */
export type Permissions = z.infer<typeof permissionsSchema>

/** Whether `list` (a permission's types, or `'*'`) grants `type`. */
export function granted(list: Permissions['publish'], type: string): boolean {
  return list === '*' || list.includes(type)
}

/** Whether an attachment with `permissions` may publish `type`. */
export function mayPublish(permissions: Permissions, type: string): boolean {
  return granted(permissions.publish, type)
}

/** Whether an attachment with `permissions` may receive `type`. */
export function mayReceive(permissions: Permissions, type: string): boolean {
  return granted(permissions.subscribe, type)
}

/**
 * Permissions whose lists name only types `T` (a catalog's): what the app's own modules and
 * windows declare, so a misspelt type fails to compile rather than refusing the attachment when
 * the app starts.
 */
export type PermissionsOf<T extends string> = {
  readonly [K in keyof Permissions]: K extends 'publish' | 'subscribe' ? '*' | readonly T[] : Permissions[K]
}

const count = z.number().int().nonnegative()

/** What became of a direct channel's deliveries: the core's counters of the same names. */
export const DIRECT_OUTCOMES = ['delivered', 'failed', 'dropped', 'retried', 'deadLettered'] as const
/**
 * Everything a direct channel counts: its outcomes, copies routed, attempts whose handler ran past
 * the bus's `slowHandlerThresholdMs` (timed by the consumer), publishes the producer refused
 * because its backlog was full (`queueFull`, the bus's counter), copies handed back to the hub
 * (unacknowledged when the channel went down: the hub counts those as they arrive, so a producer's
 * reports always say 0), and two counts the hub keeps for itself:
 * copies that left over the channel (`sent`, first attempts only) and BestEffort copies dropped
 * after they left (`sentDropped`). Should the producer die, the hub sets those against what its
 * consumer saw (see `rfin`), so copies the producer had not yet reported are still accounted for.
 */
export const DIRECT_COUNT_NAMES = [
  'routed',
  ...DIRECT_OUTCOMES,
  'slowHandlers',
  'queueFull',
  'handedBack',
  'sent',
  'sentDropped',
] as const

/** Counts of one subscription and type on a direct channel, since the previous report. */
export const directCountsSchema = z
  .object({
    sid: subscriptionId,
    type: typeName,
    ...(Object.fromEntries(DIRECT_COUNT_NAMES.map((name) => [name, count])) as Record<
      (typeof DIRECT_COUNT_NAMES)[number],
      typeof count
    >),
  })
  .strict()
export type DirectCounts = z.infer<typeof directCountsSchema>

/** Counts of subscription `sid` and `type`, all zero. */
export function zeroDirectCounts(sid: string, type: string): DirectCounts {
  return { sid, type, ...Object.fromEntries(DIRECT_COUNT_NAMES.map((name) => [name, 0])) } as DirectCounts
}

/** Predicate errors one `perr` frame reports per subscription at most (an endpoint sends more in more frames). */
export const MAX_PREDICATE_ERRORS = 65_536
/** Subscriptions one `perr` frame reports at most. */
export const MAX_SUBSCRIPTIONS_PER_PERR = 1024

/** Held messages a direct channel's consumer releases per frame at most. */
export const MAX_RELEASED = 4096

/**
 * What a direct channel's consumer saw of one subscription and type, over the channel's whole life:
 * copies that arrived (first attempts; retries come marked `again`), deliveries its handlers
 * settled successfully (acks, whether or not they reached the producer), attempts that failed,
 * BestEffort copies dropped because their handler failed, and settled attempts whose handler ran
 * past the bus's slow-handler threshold (`slow`).
 */
export const channelOutcomesSchema = z
  .object({
    sid: subscriptionId,
    type: typeName,
    arrived: count,
    delivered: count,
    failed: count,
    dropped: count,
    slow: count,
  })
  .strict()
  .refine(({ slow, delivered, failed }) => slow <= delivered + failed, {
    message: 'slow counts settled attempts: at most delivered + failed',
  })
export type ChannelOutcomes = z.infer<typeof channelOutcomesSchema>

/** What a consumer saw of subscription `sid` and `type` before anything arrived: all zero. */
export function zeroChannelOutcomes(sid: string, type: string): ChannelOutcomes {
  return { sid, type, arrived: 0, delivered: 0, failed: 0, dropped: 0, slow: 0 }
}

const latencyTallySchema = z
  .object({
    sid: subscriptionId,
    us: z.array(z.number().int().nonnegative().max(MAX_LATENCY_MICROS)).max(MAX_LATENCY_SLOTS),
    n: z.array(z.number().int().positive()).max(MAX_LATENCY_SLOTS),
    sumUs: z.number().nonnegative(),
  })
  .strict()
  .check((ctx) => {
    if (ctx.value.us.length !== ctx.value.n.length)
      ctx.issues.push({ code: 'custom', message: '`us` and `n` must be as long', input: ctx.value })
  })
export type LatencyTallyReport = z.infer<typeof latencyTallySchema>

/** Messages a direct channel's producer samples for the hub's tail per report at most. */
export const DIRECT_TAIL_SAMPLE = 50

/** A direct channel producer's periodic report to the hub. */
export const directReportSchema = z
  .object({
    /** Messages published over the channel only (copies sent to the hub are counted there). */
    published: z.array(z.object({ type: typeName, count }).strict()).max(1024),
    counts: z.array(directCountsSchema).max(4096),
    /**
     * Publish-to-ack latencies of every successful delivery since the previous report, per
     * subscription, tallied as the hub's histogram keeps them: `n[i]` deliveries took `us[i]` µs
     * (from 2,048 µs on, the lowest value of the histogram slot they fall in), `sumUs` µs in all.
     */
    latency: z.array(latencyTallySchema).max(1024),
    /** Copies waiting at the producer (over the window or in a retry backoff) and in flight. */
    queued: count,
    inFlight: count,
    /**
     * While the hub streams its tail: the first messages published over the channel only since the
     * last report, with the number of subscriptions each went to, and whether more were skipped.
     */
    tail: z
      .array(z.object({ msg: message, routedTo: count }).strict())
      .max(DIRECT_TAIL_SAMPLE)
      .optional(),
    tailSampled: z.boolean().optional(),
    /** The producer's last report: the channel closed and nothing more will be counted on it. */
    final: z.literal(true).optional(),
  })
  .strict()
export type DirectReport = z.infer<typeof directReportSchema>

/** One consumer subscription a direct channel delivers to, with the filter it needs to match. */
export const directTargetSchema = z
  .object({
    sid: subscriptionId,
    /** Types of the route this subscription takes. */
    types: z.array(typeName).min(1).max(1024),
    minPriority: z.number().int().min(0).max(3).optional(),
    reliable: z.boolean(),
    /** Attempt timeout the consumer enforces on its handler. */
    timeoutMs: z.number().positive(),
  })
  .strict()
export type DirectTarget = z.infer<typeof directTargetSchema>

/** What a direct channel's producer delivers to, and which types other subscribers also want. */
export const directTermsSchema = z
  .object({
    seq: z.number().int().nonnegative(),
    targets: z.array(directTargetSchema).max(1024),
    /** Route types other subscriptions (beyond the targets) also match: those go to the hub too. */
    shared: z.array(typeName).max(1024),
  })
  .strict()
export type DirectTerms = z.infer<typeof directTermsSchema>

/** The bus's limits a producer applies to its direct channel, as the hub would. */
export const directLimitsSchema = z
  .object({
    maxQueueSize: z.number().int().positive(),
    maxMessageBytes: z.number().int().positive(),
    maxRetryAttempts: z.number().int().nonnegative(),
    retry: z
      .object({
        initialMs: count,
        maxMs: count,
        multiplier: z.number().min(1),
        jitter: z.number().min(0).max(1),
      })
      .strict(),
    /** Deliveries in flight on the channel at most; beyond it copies wait at the producer. */
    window: z.number().int().positive(),
  })
  .strict()
export type DirectLimits = z.infer<typeof directLimitsSchema>

export const deadLetterOperationSchema = z.enum(['list', 'replay', 'purge'])

/**
 * The attempts of a delivery a direct channel's producer hands back before its retries ran out:
 * the hub path retries it from there, as the bus retries a copy, instead of starting its attempts
 * again, and a dead letter of it counts them as in process.
 */
export const priorAttemptsSchema = z
  .object({
    /**
     * Attempts that count so far: those sent, the last perhaps unanswered, less a last one the
     * consumer answered `gone` without having run it.
     */
    attempts: z.number().int().positive().max(1_000_000),
    /** The last failed attempt's error, "Name: message"; absent when none failed. */
    error: z.string().max(MAX_FAILURE_TEXT).optional(),
    /** When the first attempt failed (epoch ms); absent when none failed. */
    firstFailedAt: z.number().int().nonnegative().optional(),
  })
  .strict()
export type PriorAttempts = z.infer<typeof priorAttemptsSchema>

/** A request's publish: the hub says when no subscription (of `module` alone) took it. */
const publishCountSchema = z.strictObject({ module: moduleIdSchema.optional() })

/** What marks a request's publish (`pub`'s and `pubs`' `count`). */
export type PublishCount = z.infer<typeof publishCountSchema>

/** A request's mark in a `pubs` frame: its index among the frame's messages, and `pub`'s `count`. */
export type BatchedPublishCount = PublishCount & { at: number }

/**
 * Whether `count` marks requests among `total` messages, each `{ at, module? }`, in increasing
 * order of `at` (so each at most once, and the hub walks them beside the messages). Read by hand
 * rather than by a zod schema per mark: a mark rides on every request, and on the hub's thread the
 * schema took ~0.2–0.4 µs a mark where this takes ~0.02 µs (a frame of 64 timed alone).
 */
function countMarksRequests(count: unknown[], total: number): boolean {
  let previous = -1
  for (const mark of count) {
    if (typeof mark !== 'object' || mark === null) return false
    const { at, module } = mark as Partial<Record<string, unknown>>
    if (typeof at !== 'number' || !Number.isInteger(at) || at <= previous || at >= total) return false
    if (module !== undefined && !isModuleId(module)) return false
    for (const key in mark) if (key !== 'at' && key !== 'module') return false
    previous = at
  }
  return true
}

/** A publish, or a copy of a direct channel's (see the markers' notes). */
const pubFrame = z
  .object({
    t: z.literal('pub'),
    rid: requestId,
    msg: message,
    /**
     * Sent by the producer of direct channel `via`: with `seq`, a copy for the subscribers that
     * channel (under terms `seq`) does not cover; with `to`, an unacknowledged delivery of the
     * channel handed back to subscription `to` when the channel went down (with `unsent`, a copy
     * that never left the producer, so never counted as routed over the channel). The hub counts
     * hand-backs as they arrive; the producer's reports do not. Sent by its consumer
     * with `to`: a delivery of the channel its handler failed after the channel closed; with `to`
     * and `held`, a Reliable delivery of the channel whose first attempt failed while it was open,
     * for the hub to keep while the producer retries it, until the consumer handles a retry
     * (`rrel`) or the producer dead-letters it or hands it back, and to requeue should the
     * producer go first. The consumer sends it before its nack, so no moment of the producer's
     * death can take the message along. With `held` and `custody`, a Reliable delivery that had
     * arrived and not settled when the channel closed: kept likewise, counted delivered when the
     * consumer releases it (no ack of it reaches the producer), requeued should the consumer go
     * before it settles, once the producer is gone too.
     */
    via: channelId.optional(),
    seq: z.number().int().nonnegative().optional(),
    to: subscriptionId.optional(),
    held: z.literal(true).optional(),
    custody: z.literal(true).optional(),
    unsent: z.literal(true).optional(),
    /**
     * On a producer's hand-back (`to`): the attempts that count, for the hub path to go on from;
     * absent when none failed and none ran to the consumer's `gone`.
     */
    prior: priorAttemptsSchema.optional(),
    /**
     * A request's publish: answered as any publish (`okr`) when a subscription (of `module` alone,
     * when given) took it, else with `res` whose `ok` is 0, so that a request nothing could answer
     * fails at once. On a publish, or on a direct channel's copy for the subscribers it does not
     * serve (`via`, `seq`: then the channel's own subscriptions are not counted), never on a hand-back.
     */
    count: publishCountSchema.optional(),
  })
  .strict()

/**
 * Mixes of channel markers a `pub` frame may not carry, each with what is wrong: each marker
 * belongs to one kind of channel copy, so any other mix is refused, never guessed at. Built once,
 * not per frame: a `pub` is checked for each message an unbatched endpoint publishes.
 */
const PUB_MARKER_MIXES: readonly [(frame: z.infer<typeof pubFrame>) => boolean, string][] = [
  [
    ({ via, seq, to }) => (seq !== undefined || to !== undefined) && via === undefined,
    '`seq` and `to` need `via`',
  ],
  [({ seq, to }) => seq !== undefined && to !== undefined, '`seq` and `to` exclude each other'],
  [
    ({ held, unsent, to }) => (held === true || unsent === true) && to === undefined,
    '`held` and `unsent` need `to`',
  ],
  [({ held, unsent }) => held === true && unsent === true, '`held` and `unsent` exclude each other'],
  [({ custody, held }) => custody === true && held !== true, '`custody` needs `held`'],
  [
    ({ prior, to, held, unsent }) =>
      prior !== undefined && (to === undefined || held === true || unsent === true),
    '`prior` goes only with `to`, on a copy that left (not `held` or `unsent`)',
  ],
  [
    ({ count, to }) => count !== undefined && to !== undefined,
    '`count` goes only on a publish, not on a hand-back (`to`)',
  ],
]

/** Frames an endpoint sends to the hub. */
export const endpointFrameSchema = z.discriminatedUnion('t', [
  z
    .object({
      t: z.literal('hello'),
      v: z.number().int(),
      module: moduleIdSchema.optional(),
      /** The endpoint reads batched deliveries (`dlvs`). */
      batch: z.boolean().optional(),
      /**
       * The endpoint reads batches whose messages travel as rows beside templates of their shapes
       * (see message-shapes over ports, text-shapes over text). The hub reads them from any endpoint.
       */
      shapes: z.boolean().optional(),
      /**
       * The endpoint times its handlers and says which ran past the welcome's `slowMs` (`ack`'s
       * `slow`, `nack`'s `slow`). Otherwise the hub counts a slow handler by the time from sending
       * a delivery to its ack, which includes the time it waited at the endpoint.
       */
      slow: z.boolean().optional(),
      /**
       * The endpoint sends publishes again after its connection drops (`pubs` with `again`): the hub
       * remembers the ids of what this connection takes. Others' it does not keep.
       */
      again: z.boolean().optional(),
    })
    .strict(),
  pubFrame.check((ctx) => {
    const problem = PUB_MARKER_MIXES.find(([wrong]) => wrong(ctx.value))?.[1]
    if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value })
  }),
  /**
   * Publishes with request ids `rid`, `rid + 1`, …, one per message, answered like `pub`. Each
   * message is checked as its publish is, so a bad one is refused alone, not with its batch.
   * `count` marks the requests among them (`at`: the index in `msgs`, in increasing order), each
   * answered as a `pub` with `count` is.
   */
  z
    .object({
      t: z.literal('pubs'),
      rid: requestId,
      msgs: z.array(z.unknown()).min(1).max(MAX_BATCH),
      count: z
        .custom<BatchedPublishCount[]>((value) => Array.isArray(value) && value.length >= 1, {
          error: '`count` is a list of marks',
        })
        .optional(),
      /**
       * Publishes sent again after the endpoint's connection dropped before their answers came:
       * the hub answers those a connection of the same module that ended, and said `again` in its
       * hello, took (among its last 4,096) as taken, without publishing them twice, and publishes
       * the others. Not with `count`.
       */
      again: z.literal(true).optional(),
    })
    .strict()
    .check((ctx) => {
      const { count, msgs, again } = ctx.value
      if (again === true && count !== undefined) {
        ctx.issues.push({
          code: 'custom',
          message: '`again` and `count` exclude each other',
          input: ctx.value,
        })
        return
      }
      if (count === undefined || countMarksRequests(count, msgs.length)) return
      ctx.issues.push({
        code: 'custom',
        message:
          '`count` marks requests among `msgs` as { at: an index into msgs, module?: a module id }, in increasing order of `at`',
        input: ctx.value,
      })
    }),
  z
    .object({
      t: z.literal('sub'),
      rid: requestId,
      module: z.string().max(128),
      filter: plainFilterSchema,
      mode: deliveryModeSchema,
      label: subscriptionLabelSchema.optional(),
      /**
       * The subscription this endpoint held on a connection that dropped: the hub gives back that
       * one if it parked it with the same filter and mode, and no other; without it, the first it
       * parked for this identity, filter and mode.
       */
      resumes: subscriptionId.optional(),
    })
    .strict(),
  z.object({ t: z.literal('unsub'), rid: requestId, sid: subscriptionId }).strict(),
  /**
   * Deliveries handled successfully (including those the endpoint's predicate declined); `slow`:
   * more of them, whose handler ran past the welcome's `slowMs` (endpoints that said `slow`).
   */
  z
    .object({
      t: z.literal('ack'),
      ids: z.array(deliveryId).max(65_536),
      slow: z.array(deliveryId).max(65_536).optional(),
    })
    .strict(),
  /**
   * Predicates that threw at the endpoint, per subscription, since the previous `perr` (the hub
   * counts them in `predicateErrors`; each such delivery was acknowledged, as no match).
   */
  z
    .object({
      t: z.literal('perr'),
      counts: z
        .array(
          z
            .object({ sid: subscriptionId, count: z.number().int().min(1).max(MAX_PREDICATE_ERRORS) })
            .strict(),
        )
        .min(1)
        .max(MAX_SUBSCRIPTIONS_PER_PERR),
    })
    .strict(),
  /**
   * A delivery whose handler failed; `timedOut` when it did not settle in time, `slow` when it ran
   * past the welcome's `slowMs` (endpoints that said `slow`). With `gone`, its handler never ran
   * (its subscription was unsubscribed at the endpoint first) or its result does not count (the
   * bus ended the subscription, `ended`, while it ran, which `ran` says): it ends as a copy the
   * subscription still held (dead-lettered if Reliable, with the reason the subscription ended,
   * else dropped), with no failed attempt, and counting its attempt only if it ran.
   */
  z
    .object({
      t: z.literal('nack'),
      id: deliveryId,
      error: z.string().max(MAX_FAILURE_TEXT),
      timedOut: z.boolean(),
      slow: z.literal(true).optional(),
      gone: z.literal(true).optional(),
      ran: z.literal(true).optional(),
    })
    .strict(),
  z.object({ t: z.literal('metrics'), rid: requestId }).strict(),
  /** The metrics points the hub kept (`metricsHistory()`). */
  z.object({ t: z.literal('history'), rid: requestId }).strict(),
  z
    .object({
      t: z.literal('dlq'),
      rid: requestId,
      op: deadLetterOperationSchema,
      selector: z.unknown().optional(),
    })
    .strict(),
  /** Turns a privileged stream on or off. */
  z
    .object({ t: z.literal('stream'), rid: requestId, name: inspectorStreamNameSchema, on: z.boolean() })
    .strict(),
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('pong') }).strict(),
  /** The endpoint closes on purpose: its subscriptions end at once. */
  z.object({ t: z.literal('bye') }).strict(),
  /** The producer of channel `id` applied terms `seq`. */
  z.object({ t: z.literal('rsync'), id: channelId, seq: z.number().int().nonnegative() }).strict(),
  /** What the producer of channel `id` counted since its previous report. */
  z.object({ t: z.literal('rstat'), id: channelId, report: directReportSchema }).strict(),
  /** A delivery of channel `id` that failed past its retries. */
  z
    .object({
      t: z.literal('rdead'),
      id: channelId,
      sid: subscriptionId,
      msg: message,
      reason: z.enum(['MaxRetriesExceeded', 'DeliveryTimeout', 'Unsubscribed']),
      /** Attempts that ran (none for a copy its consumer's subscription ended before). */
      attempts: z.number().int().nonnegative(),
      error: z.string().max(MAX_FAILURE_TEXT),
      firstFailedAt: z.number(),
    })
    .strict(),
  /** The producer's side of channel `id` ended (the peer went away, or the port closed). */
  z.object({ t: z.literal('rdown'), id: channelId, reason: z.string().max(MAX_REASON_LENGTH) }).strict(),
  /**
   * Either end of channel `id`: `count` frames from the other end since the last such report could
   * not be read (undecodable, or not a frame of the protocol) and were dropped; `reason` the first's.
   */
  z
    .object({
      t: z.literal('rbad'),
      id: channelId,
      count: z.number().int().positive(),
      reason: z.string().max(MAX_REASON_LENGTH),
    })
    .strict(),
  /**
   * Messages the hub holds for subscription `to` of channel `id` (`pub` with `held`) whose retry
   * its consumer handled.
   */
  z
    .object({
      t: z.literal('rrel'),
      id: channelId,
      to: subscriptionId,
      ids: z.array(z.string().min(1).max(128)).min(1).max(MAX_RELEASED),
    })
    .strict(),
  /**
   * The consumer's side of channel `id` closed and every delivery it made has settled: what it saw,
   * by subscription and type, over the channel's life. The hub uses it only if the producer went
   * without its final report. With `provisional`, sent as the side closed while deliveries were
   * still unsettled: its counts as if the consumer died then (Reliable ones given to the hub in
   * custody, BestEffort ones counted dropped), for the hub to use if no final counts come.
   */
  z
    .object({
      t: z.literal('rfin'),
      id: channelId,
      outcomes: z.array(channelOutcomesSchema).max(4096),
      provisional: z.literal(true).optional(),
    })
    .strict(),
])
export type EndpointFrame = z.infer<typeof endpointFrameSchema>

/** An error as it crosses the wire: the error's data plus its message. */
export const wireErrorSchema = z.object({ data: eventBusErrorDataSchema, message: z.string() })
export type WireError = z.infer<typeof wireErrorSchema>

/** One entry of the message tail (inspector stream). */
export interface TailEntry {
  /** The message as published. */
  message: Envelope
  /** Subscriptions it was routed to. */
  routedTo: number
}

/** Frames the hub sends to an endpoint. */
export const hubFrameSchema = z.discriminatedUnion('t', [
  z
    .object({
      t: z.literal('welcome'),
      v: z.number().int(),
      module: moduleIdSchema,
      permissions: permissionsSchema,
      workers: z.number().int().positive(),
      heartbeatMs: z.number().int().nonnegative(),
      /** The bus's `slowHandlerThresholdMs`: a handler running longer is slow. */
      slowMs: z.number().nonnegative().optional(),
    })
    .strict(),
  z.object({ t: z.literal('res'), rid: requestId, ok: z.unknown() }).strict(),
  z.object({ t: z.literal('rej'), rid: requestId, error: wireErrorSchema }).strict(),
  /** Successful publishes `from`…`to` (inclusive), acknowledged in one frame. */
  z.object({ t: z.literal('okr'), from: requestId, to: requestId }).strict(),
  z
    .object({
      t: z.literal('dlv'),
      sid: subscriptionId,
      id: deliveryId,
      msg: message,
      /** Attempt timeout the endpoint enforces on its handler. */
      timeoutMs: z.number().positive(),
      /**
       * From a direct channel's producer: a retry of a delivery that failed (the hub holds the
       * message meanwhile; the consumer releases it once its handler succeeds).
       */
      again: z.literal(true).optional(),
    })
    .strict(),
  /** Deliveries `id`, `id + 1`, … of `msgs` to one subscription (to endpoints that said `batch`). */
  z
    .object({
      t: z.literal('dlvs'),
      sid: subscriptionId,
      id: deliveryId,
      msgs: z.array(message).min(1).max(MAX_BATCH),
      timeoutMs: z.number().positive(),
    })
    .strict(),
  /** A frame the hub could not accept, with no request to answer. */
  z.object({ t: z.literal('err'), error: wireErrorSchema }).strict(),
  z.object({ t: z.literal('metrics'), snapshot: z.unknown() }).strict(),
  z.object({ t: z.literal('tail'), entries: z.array(z.custom<TailEntry>()), sampled: z.boolean() }).strict(),
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('pong') }).strict(),
  /** The hub ends the attachment (detach, close, refusal). */
  z.object({ t: z.literal('bye'), reason: z.string() }).strict(),
  /**
   * The bus ended subscription `sid` itself (it shut down): run none of its deliveries you have not
   * started (the hub has accounted for every one it sent), as after `unsubscribe`.
   */
  z.object({ t: z.literal('ended'), sid: subscriptionId, reason: z.string() }).strict(),
  /**
   * A direct channel for `types` with endpoint `peer`; its port is transferred with this frame's
   * unit (`ports[port]`). The producer gets the terms and limits, confirms them (`rsync`) and sends
   * nothing over the channel until `rgo`; the consumer only listens.
   */
  z
    .object({
      t: z.literal('route'),
      id: channelId,
      role: z.enum(['producer', 'consumer']),
      peer: moduleIdSchema,
      types: z.array(typeName).min(1).max(1024),
      port: z.number().int().nonnegative().max(15),
      terms: directTermsSchema.optional(),
      limits: directLimitsSchema.optional(),
    })
    .strict(),
  /** New terms for the producer of channel `id` (it answers `rsync`). */
  z.object({ t: z.literal('rterms'), id: channelId, terms: directTermsSchema }).strict(),
  /** Channel `id` is withdrawn: stop using it (the producer hands back what is unacknowledged). */
  z.object({ t: z.literal('unroute'), id: channelId, reason: z.string() }).strict(),
  /** Whether the producer samples what it publishes for the hub's tail (someone is watching it). */
  z.object({ t: z.literal('rtail'), id: channelId, on: z.boolean() }).strict(),
  /** The producer may start sending over channel `id` (until then it holds what it publishes). */
  z.object({ t: z.literal('rgo'), id: channelId }).strict(),
])
export type HubFrame = z.infer<typeof hubFrameSchema>

export type Frame = EndpointFrame | HubFrame

/**
 * Frame fields that hold rich values (Date, Map, Set, BigInt …), superjson-encoded over text;
 * `msgs` holds an array of them, each encoded on its own.
 */
export const RICH_FIELDS = ['msg', 'msgs', 'ok', 'snapshot', 'entries', 'selector'] as const
