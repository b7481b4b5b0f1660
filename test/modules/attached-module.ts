/**
 * What the module tests share: a module run in this thread as its runner would, attached to a hub,
 * and what modules publish, collected.
 */
import { MessageChannel } from 'node:worker_threads'
import { DeliveryMode, type Envelope, type EventBus, ModuleId } from '../../src/main/bus/index.js'
import { startOrchestrator } from '../../src/main/host/orchestrator.js'
import type { Hub } from '../../src/main/hub/index.js'
import { lifecyclePermissions, type ModuleDefinition } from '../../src/modules/define.js'
import { type RunOptions, runModule } from '../../src/modules/lifecycle.js'
import type { MessageType } from '../../src/shared/catalog.js'
import { fromNodePort } from '../../src/shared/index.js'
import { waitFor } from '../helpers.js'

/**
 * `definition` run in this thread as its runner would, attached to `hub` with the lifecycle's
 * permissions, once it is Healthy: `running` settles as it ends; `orchestrator` (no health rounds
 * within a test) sends it updates and its shutdown, as the host does.
 */
export async function attachedModule(bus: EventBus, hub: Hub, definition: ModuleDefinition, run: RunOptions) {
  const { port1, port2 } = new MessageChannel()
  hub.attach(port1, { module: definition.id, permissions: lifecyclePermissions(definition) })
  const running = runModule(definition, fromNodePort(port2), run)
  await waitFor(() => bus.registry.get(definition.id)?.status === 'Healthy')
  const orchestrator = startOrchestrator(bus, { healthIntervalMs: 60_000 })
  orchestrator.stop()
  return { running, orchestrator }
}

/** The messages of `types` (from `sources`, when given) published on `bus` from now on, as they come. */
export async function collected(
  bus: EventBus,
  types: MessageType[],
  sources?: string[],
): Promise<Envelope[]> {
  const seen: Envelope[] = []
  await bus.subscribe(
    ModuleId.CuteFigurine,
    sources === undefined ? { types } : { types, sources },
    DeliveryMode.BestEffort,
    (message) => {
      seen.push(message)
    },
  )
  return seen
}
