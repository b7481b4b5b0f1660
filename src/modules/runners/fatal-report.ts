/**
 * What a module's utility process tells the main process as it ends on an error: Electron reports
 * only the exit code of a utility process that threw, where a worker thread's 'error' event
 * carries the error itself, and the registry shows why a module ended either way.
 */
import { z } from 'zod'
import { describeThrown } from '../../shared/errors.js'

/** Sent on `process.parentPort` just before the process ends; marked so nothing else is read as one. */
const fatalReportSchema = z.strictObject({ skellyFatal: z.string().max(2000) })

/** The report for `error`: its name and message, as the worker launcher gives a worker's. */
export function fatalReport(error: unknown): z.infer<typeof fatalReportSchema> {
  return { skellyFatal: describeThrown(error).slice(0, 2000) }
}

/** The error text a message from a utility process reports, if it is such a report. */
export function reportedFatal(message: unknown): string | undefined {
  const parsed = fatalReportSchema.safeParse(message)
  return parsed.success ? parsed.data.skellyFatal : undefined
}

/**
 * How long a failing utility process waits between sending its report and exiting: the report
 * travels on the parent port and the exit reaches the main process by another way, and a report
 * sent by a process exiting at once could come after it, or not at all.
 */
export const REPORT_GRACE_MS = 100
