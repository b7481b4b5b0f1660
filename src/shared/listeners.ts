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
  for (const listener of listeners) call(listener, what, args)
}

/**
 * As {@link notifyAll}, each listener getting `args` of its own: the first the originals, the others
 * structured clones, all made before any listener runs. A metrics snapshot or a batch of the tail
 * is its listener's to keep or change, as each call across Electron's context bridge gets a copy:
 * what one listener changes (a Date's `setTime` too, which no freeze stops) is not what the next
 * reads. Snapshots and tail batches come a few times a second, so copies cost little. A value that
 * cannot be cloned is shared instead ({@link copyOf}). A listener stopped by one called before it is
 * not called, as with {@link notifyAll}.
 */
export function notifyEachOwnCopy<A extends unknown[]>(
  listeners: ReadonlySet<(...args: A) => void>,
  what: string,
  ...args: A
): void {
  const each = [...listeners]
  const argsOf = each.map((_, index) => (index === 0 ? args : copyOf(args, what)))
  each.forEach((listener, index) => {
    if (listeners.has(listener)) call(listener, what, argsOf[index] as A)
  })
}

/**
 * A structured clone of `args`, or, for a value that cannot be cloned (one a decoder made that this
 * runtime refuses to clone), `args` themselves, shared, with the console saying so: the listener
 * still gets what came, and the frame handling that called goes on.
 */
function copyOf<A extends unknown[]>(args: A, what: string): A {
  try {
    return structuredClone(args)
  } catch (error) {
    console.error(
      `skelly-bus: a ${what} listener shares the ${what} it gets, which could not be copied: ${describeThrown(error)}`,
    )
    return args
  }
}

function call<A extends unknown[]>(listener: (...args: A) => void, what: string, args: A): void {
  try {
    listener(...args)
  } catch (error) {
    console.error(`skelly-bus: a ${what} listener threw: ${describeThrown(error)}`)
  }
}
