/**
 * A spawned process's output and end, for tests of the tools and hosts that run them as a user does
 * (vitest's and Playwright's alike: it imports neither runner).
 */
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'

/** How a process ended: its exit code, or the signal that ended it. */
export interface ProcessEnd {
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * Collects everything `child` prints, stdout and stderr as one text in the order it arrives, and
 * how it ends. Call it as soon as the process is spawned, so nothing printed is missed.
 */
export function outputOf(child: ChildProcessByStdio<null, Readable, Readable>): {
  output: () => string
  exited: Promise<ProcessEnd>
} {
  let output = ''
  const append = (chunk: Buffer) => {
    output += chunk
  }
  child.stdout.on('data', append)
  child.stderr.on('data', append)
  const exited = new Promise<ProcessEnd>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { output: () => output, exited }
}
