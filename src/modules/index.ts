/** The Skelly-Jelly modules that run outside the main process, by id. */
import aiIntegration from './ai-integration.js'
import analysisEngine from './analysis-engine.js'
import dataCapture from './data-capture.js'
import type { ModuleDefinition } from './define.js'
import gamification from './gamification.js'
import storage from './storage.js'

/** Every module a host launches, by id: DataCapture, Storage, AnalysisEngine, Gamification, AiIntegration. */
export const moduleDefinitions: Readonly<Record<string, ModuleDefinition>> = Object.freeze(
  Object.fromEntries(
    [dataCapture, storage, analysisEngine, gamification, aiIntegration].map((m) => [m.id, m]),
  ),
)

export { defineModule, lifecyclePermissions, type ModuleDefinition } from './define.js'
