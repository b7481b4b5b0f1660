/**
 * A stand-in for the two parts of Electron that carry the Electron host's messages, MessagePortMain
 * channels and utility processes, built on worker_threads so that the host's own code can run here,
 * where Electron's binary cannot. It keeps to Electron's documented behaviour where a mistake in the
 * host would show: a port delivers nothing until `start()`, a message event is `{ data, ports }`,
 * only ports of its own kind may be transferred, and 'close' fires when the other end goes (its
 * process ended, or it was closed). It proves the host's wiring, not Electron itself:
 * `e2e/electron` runs the real app wherever the binary exists.
 */
import { EventEmitter } from 'node:events'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'

/**
 * A message that transfers ports crosses a worker_threads port in this marked envelope, since its
 * receiver gets no list of ports beside it; a message without ports crosses as it is, so that a
 * DOM MessagePort at the other end (a window's) reads it as Electron's renderer would.
 */
interface Carried {
  readonly simulatedTransfer: true
  readonly data: unknown
  readonly ports: readonly MessagePort[]
}

function nodePortsOf(transfer: readonly unknown[]): MessagePort[] {
  return transfer.map((port, index) => {
    if (!(port instanceof SimulatedPortMain))
      throw new TypeError(`Port at index ${index} is not a valid port`)
    return port.port
  })
}

function carry(
  target: { postMessage(value: unknown, transfer?: MessagePort[]): void },
  data: unknown,
  transfer: readonly unknown[],
): void {
  const ports = nodePortsOf(transfer)
  if (ports.length === 0) target.postMessage(data)
  else target.postMessage({ simulatedTransfer: true, data, ports } satisfies Carried, ports)
}

/** What arrived over a worker_threads port, as Electron's `{ data, ports }`, its ports as MessagePortMain. */
export function received(value: unknown): { data: unknown; ports: SimulatedPortMain[] } {
  const carried = value as Partial<Carried> | null
  if (carried?.simulatedTransfer !== true) return { data: value, ports: [] }
  return { data: carried.data, ports: (carried.ports ?? []).map((port) => new SimulatedPortMain(port)) }
}

/** Electron's MessagePortMain, over one end of a worker_threads channel. */
export class SimulatedPortMain extends EventEmitter {
  private started = false

  constructor(readonly port: MessagePort) {
    super()
    // Wired on demand: a worker_threads port with a listener reports 'close' when it is transferred.
    let closeWired = false
    this.on('newListener', (event: string) => {
      if (event !== 'close' || closeWired) return
      closeWired = true
      port.on('close', () => this.emit('close'))
    })
  }

  postMessage(message: unknown, transfer: readonly unknown[] = []): void {
    carry(this.port, message, transfer)
  }

  /** Messages wait until this is called, as in Electron. */
  start(): void {
    if (this.started) return
    this.started = true
    this.port.on('message', (value: unknown) => this.emit('message', received(value)))
  }

  close(): void {
    this.port.close()
  }
}

/** Electron's MessageChannelMain. */
export class SimulatedChannelMain {
  readonly port1: SimulatedPortMain
  readonly port2: SimulatedPortMain

  constructor() {
    const { port1, port2 } = new MessageChannel()
    this.port1 = new SimulatedPortMain(port1)
    this.port2 = new SimulatedPortMain(port2)
  }
}

/**
 * A window's webContents, as the host uses it to hand the window's preload its port:
 * `postMessage(channel, message, transfer)` takes only MessagePortMain ports, and the renderer side
 * (`renderer`, where the preload's `ipcRenderer` listens) receives them as DOM MessagePorts.
 */
export class SimulatedWebContents extends EventEmitter {
  /** The renderer's side of the IPC channel: events `{ ports }` by channel name. */
  readonly renderer = new EventEmitter()

  setWindowOpenHandler(): void {}

  postMessage(channel: string, _message: unknown, transfer: readonly unknown[] = []): void {
    // A worker_threads port is a DOM MessagePort too (addEventListener, start, close).
    this.renderer.emit(channel, { ports: nodePortsOf(transfer) })
  }
}

const BOOTSTRAP = new URL('./utility-process-bootstrap.mjs', import.meta.url)

/**
 * Electron's UtilityProcess, as a worker thread running `entry` (TypeScript) with a
 * `process.parentPort` of its own (what its `postMessage` sends is this object's 'message'
 * event). `exit` carries the thread's exit code.
 */
export class SimulatedUtilityProcess extends EventEmitter {
  private readonly worker: Worker

  constructor(entry: string) {
    super()
    this.worker = new Worker(BOOTSTRAP, { workerData: { entry } })
    this.worker.on('error', (error) => console.error(`[simulated utility process] ${error.message}`))
    this.worker.on('exit', (code) => this.emit('exit', code))
    this.worker.on('message', (message) => this.emit('message', message))
  }

  /** Makes the module's code throw an error nothing catches, as a defect in it would. */
  crash(message: string): void {
    this.worker.postMessage({ simulatedCrash: message })
  }

  /** What the host posted to the process, in order (the first: the module's id and options). */
  readonly posted: unknown[] = []

  postMessage(message: unknown, transfer: readonly unknown[] = []): void {
    this.posted.push(message)
    carry(this.worker, message, transfer)
  }

  kill(): boolean {
    void this.worker.terminate()
    return true
  }
}

/** What an Electron host's test records of `app`: the handlers it set, and its exits and quits. */
export interface AppRecord {
  userData: string
  readonly appHandlers: Map<string, (event: { preventDefault(): void }) => void>
  readonly exit: (code?: number) => void
  readonly quit: () => void
}

/** Electron's `app` as the host uses it: one instance, ready at once, its calls recorded in `record`. */
export function simulatedApp(record: AppRecord) {
  return {
    requestSingleInstanceLock: () => true,
    getPath: () => record.userData,
    whenReady: async () => {},
    on: (event: string, handler: (event: { preventDefault(): void }) => void) =>
      record.appHandlers.set(event, handler),
    exit: record.exit,
    quit: record.quit,
  }
}
