/** The modules both hosts run by default. */
export const ALL_MODULES = [
  'data-capture',
  'storage',
  'analysis-engine',
  'gamification',
  'ai-integration',
] as const
