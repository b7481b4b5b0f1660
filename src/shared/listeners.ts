/**
 * Calling the listeners an application registers (metrics and tail streams, connection changes).
 * Runtime-neutral.
 */
import { describeThrown } from './errors.js'

/**
 * Calls every listener with `args`. One that throws is reported on the console and the others
 * still run: a listener is the application's code, and a bug in one must neither starve the rest
 * nor escape into the frame handling that called it, where it would skip the frames after it and,
 * in a worker, end the process as an uncaught exception.
 */
export function notifyAll<A extends unknown[]>(
  listeners: Iterable<(...args: A) => void>,
  what: string,
  ...args: A
): void {
  for (const listener of listeners) {
    try {
      listener(...args)
    } catch (error) {
      console.error(`skelly-bus: a ${what} listener threw: ${describeThrown(error)}`)
    }
  }
}
