/**
 * The app's windows: the identity and permissions the main process binds to each, whichever host
 * opens it (an Electron BrowserWindow or a page served by the headless host).
 */
import { type MessageType, ModuleId } from '../../shared/catalog.js'
import type { PermissionsOf } from '../../shared/wire.js'

export interface WindowSpec {
  /** The page (relative to the renderer build) and the identity bound to it. */
  readonly page: string
  readonly module: string
  readonly permissions: PermissionsOf<MessageType>
  readonly title: string
}

export const windows = {
  app: {
    page: 'index.html',
    module: ModuleId.CuteFigurine,
    title: 'Skelly-Jelly',
    permissions: {
      publish: ['InterventionRequest', 'RawEvent'],
      subscribe: ['AnimationCommand', 'StateChange', 'RewardEvent', 'InterventionResponse', 'StorageStatus'],
    },
  },
  inspector: {
    page: 'inspector.html',
    module: 'inspector',
    title: 'Skelly-Jelly — Bus inspector',
    permissions: { publish: [], subscribe: [], inspect: true },
  },
} as const satisfies Record<string, WindowSpec>

export type WindowName = keyof typeof windows
