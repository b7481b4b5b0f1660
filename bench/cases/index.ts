import type { CaseDefinition } from '../harness.js'
import { crossThread, latency } from './cross-thread.js'
import { direct } from './direct.js'
import { inProcess } from './in-process.js'
import { requests } from './requests.js'
import { resources } from './resources.js'
import { scale } from './scale.js'
import { websocket } from './websocket.js'

export const cases: CaseDefinition[] = [
  inProcess,
  crossThread,
  latency,
  direct,
  requests,
  websocket,
  scale,
  resources,
]
