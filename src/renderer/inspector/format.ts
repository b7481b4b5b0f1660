/** Formatting for the inspector: numbers, durations, ages, and values shown faithfully by type. */

/**
 * One formatter for every count. `toLocaleString('en-US')` builds a new one per call: ~14 µs each
 * in Chromium against ~0.5 µs for a kept one, which made a Subscriptions view of 1,000 rows
 * (8 counts each, every second) spend ~40 % of the page's thread formatting numbers.
 */
const thousands = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

export function count(value: number): string {
  // Axis ticks between small integers (0.5, 1.5) keep their fraction instead of rounding to twins.
  if (!Number.isInteger(value) && Math.abs(value) < 10) return value.toFixed(1)
  return thousands.format(Math.round(value))
}

/** `n` and its noun, singular or not: "1 subscription", "2 subscriptions", "3 copies wait". */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${count(n)} ${n === 1 ? singular : plural}`
}

export function rate(perSecond: number): string {
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(1)}k/s`
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`
  return `${perSecond.toFixed(1)}/s`
}

/** A size in bytes, in the largest unit under which it stays above 1: "512 B", "12.3 kB", "4.0 MB". */
export function bytes(value: number): string {
  if (value < 999.5) return `${Math.round(value)} B`
  // Not "1000.0 kB": a value that rounds up to the next unit is written in it.
  if (value < 999_950) return `${(value / 1000).toFixed(1)} kB`
  return `${(value / 1_000_000).toFixed(1)} MB`
}

export function millis(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  if (ms >= 10) return `${ms.toFixed(1)} ms`
  if (ms >= 1) return `${ms.toFixed(2)} ms`
  return `${Math.round(ms * 1000)} µs`
}

/**
 * `time` on the local 24-hour clock, `HH:MM:SS` (and `.mmm` with `withMillis`): the one clock the
 * inspector shows, on its charts' axes and legends and in the message tail. One row per chart
 * tick: uPlot's default puts the date and hour on a second row under the first tick of each
 * minute, and on a window of a few minutes those collide ("8:27pm8:28pm").
 */
export function clockTime(time: Date, withMillis = false): string {
  const pad = (part: number, digits = 2) => String(part).padStart(digits, '0')
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`
  return withMillis ? `${clock}.${pad(time.getMilliseconds(), 3)}` : clock
}

/** A chart's time (seconds since the epoch, uPlot's unit) on the local clock. */
export function chartTime(seconds: number): string {
  return clockTime(new Date(seconds * 1000))
}

/**
 * How long ago `since` was, in its two largest units: "42s ago", "3m 5s ago", "2h 7m ago", and
 * "4d 1h ago" for what a durable dead letter may have waited since an earlier run.
 */
export function age(since: Date, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - since.getTime()) / 1000))
  if (seconds < 60) return `${seconds}s ago`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s ago`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return `${hours}h ${minutes % 60}m ago`
  return `${Math.floor(hours / 24)}d ${hours % 24}h ago`
}

export const PRIORITY_NAMES = ['Low', 'Normal', 'High', 'Critical'] as const

/**
 * Pretty-prints a payload the way it arrived: Date, Map, Set and BigInt keep their type
 * (superjson carried them), instead of collapsing into JSON strings (which would throw on a
 * BigInt). `indent` is the current line's; `null` lays the value out on one line.
 */
export function show(value: unknown, indent: string | null = ''): string {
  const next = indent === null ? null : `${indent}  `
  /** `open`, the items and `close`: one per line, indented, or all on one line. */
  const block = (open: string, items: string[], close: string) =>
    next === null
      ? `${open} ${items.join(', ')} ${close}`
      : `${open}\n${items.map((item) => `${next}${item}`).join(',\n')}\n${indent}${close}`
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? 'Date(invalid)' : `Date(${value.toISOString()})`
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  if (value instanceof Map) {
    if (value.size === 0) return 'Map {}'
    return block(
      'Map {',
      [...value].map(([k, v]) => `${show(k, next)} => ${show(v, next)}`),
      '}',
    )
  }
  if (value instanceof Set) {
    if (value.size === 0) return 'Set {}'
    return block(
      'Set {',
      [...value].map((v) => show(v, next)),
      '}',
    )
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    return block(
      '[',
      value.map((v) => show(v, next)),
      ']',
    )
  }
  const entries = Object.entries(value)
  if (entries.length === 0) return '{}'
  return block(
    '{',
    entries.map(([k, v]) => `${k}: ${show(v, next)}`),
    '}',
  )
}

/** {@link show} on one line: the message tail's summary column and what its search reads. */
export function oneLine(value: unknown): string {
  return show(value, null)
}
