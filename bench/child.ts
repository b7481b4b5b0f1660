/** Runs one variant of one case in this (fresh) process and prints its measurements as JSON. */
import { cases } from './cases/index.js'

const [name, variant, mode] = process.argv.slice(2)
const definition = cases.find((c) => c.name === name)
if (!definition || !variant) throw new Error(`unknown case or variant: ${name} ${variant}`)
const measurements = await definition.run(variant, { quick: mode === 'quick' })
console.log(`RESULT ${JSON.stringify(measurements)}`)
process.exit(0)
