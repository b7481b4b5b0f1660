/** A module's bus as a test's double: its identity and `publish`, each message kept. */
import { type Envelope, ModuleId } from '../../src/main/bus/index.js'
import type { BusClient } from '../../src/shared/index.js'

/** Just what DataCapture and its skip counter use of a client: its identity and `publish`. */
export function fakeBus(publish: (message: Envelope) => Promise<string>) {
  const published: Envelope[] = []
  const bus = {
    module: ModuleId.DataCapture,
    publish: (message: Envelope) => {
      published.push(message)
      return publish(message)
    },
  } as unknown as BusClient
  return { bus, published }
}
