import { moduleOptionSchemas } from '../../modules/options.js'

/**
 * The modules both hosts run by default, in the order they start: every module there is, as the
 * option schemas list them (one list of ids, which `checkModuleSettings` checks names against).
 */
export const ALL_MODULES = Object.keys(moduleOptionSchemas) as readonly (keyof typeof moduleOptionSchemas)[]
