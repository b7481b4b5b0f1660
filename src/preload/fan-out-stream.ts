/**
 * One of the hub's streams (metrics or tail) fanned out to a window's listeners: open on the
 * connection once while it has listeners, however listeners and connections come and go, stopped
 * there when its last listener goes, and opened again on each new connection.
 */
import { describeThrown, isEventBusError } from '../shared/errors.js'

/** Opens the stream on the current connection; resolves with the function that stops it there. */
export type StreamOpener<C> = (connection: C) => Promise<() => void>

export class FanOutStream<C, L> {
  /** The window's listeners, told of each snapshot or batch by the caller's opener. */
  readonly listeners = new Set<L>()
  private connection: C | undefined
  /** The stream on `connection`, once asked for: its stop, once it is open. */
  private opened: Promise<() => void> | undefined

  /** @param name the stream's name, for the console */
  constructor(
    private readonly name: string,
    private readonly open: StreamOpener<C>,
  ) {}

  /**
   * The window's connection opened (`connection`) or closed (undefined): a stream on the one before
   * ended with it. Resolves once the stream is open on the new one, if it has listeners.
   */
  connectedTo(connection: C | undefined): Promise<void> {
    this.connection = connection
    this.opened = undefined
    return this.sync()
  }

  /** Adds `listener`, opening the stream if it is the first; returns the function that removes it. */
  add(listener: L): () => void {
    this.listeners.add(listener)
    void this.sync()
    return () => {
      this.listeners.delete(listener)
      void this.sync()
    }
  }

  /** Opens the stream if it has listeners and is not open, stops it if it has none. */
  private sync(): Promise<void> {
    if (this.connection !== undefined && this.listeners.size > 0 && this.opened === undefined) {
      const opening = this.open(this.connection)
      this.opened = opening
      return opening.then(
        () => {},
        (error: unknown) => this.refused(opening, error),
      )
    }
    if (this.listeners.size === 0 && this.opened !== undefined) {
      const { opened } = this
      this.opened = undefined
      opened.then(
        (stop) => stop(),
        () => {},
      )
    }
    return Promise.resolve()
  }

  /**
   * The hub did not open the stream. A connection that dropped meanwhile is not an answer: the
   * next one opens it. Any other refusal (this window may not inspect) would come again: its
   * listeners are let go, and the console says why.
   */
  private refused(opening: Promise<() => void>, error: unknown): void {
    if (this.opened !== opening) return
    this.opened = undefined
    if (isEventBusError(error, 'Disconnected')) return
    this.listeners.clear()
    console.error(`skelly-bus: the ${this.name} stream was refused: ${describeThrown(error)}`)
  }
}
