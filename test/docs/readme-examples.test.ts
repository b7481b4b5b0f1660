/**
 * The README shows only code that compiles: every TypeScript block in it is a piece of a file in
 * `examples/`, which `npm run typecheck` compiles (the README writes imports from the repository's
 * root, the examples from their folder). Layout is ignored: the formatter may wrap and add
 * trailing commas in the examples.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')

/** The code without layout: no whitespace, no trailing commas, imports as an example writes them. */
function normalized(code: string): string {
  return code
    .replaceAll("'./src/", "'../src/")
    .replaceAll("'./e2e/", "'../e2e/")
    .replace(/\s+/g, '')
    .replace(/,(?=[)\]}])/g, '')
}

const readmeBlocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (match) => match[1] ?? '',
)
const examples = readdirSync(join(root, 'examples'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => ({ name, code: normalized(readFileSync(join(root, 'examples', name), 'utf8')) }))

it('has TypeScript examples to check', () => {
  expect(readmeBlocks.length).toBeGreaterThan(3)
})

it.each(readmeBlocks.map((block) => [block.split('\n')[0], block]))(
  'README block starting %j is part of a compiled example',
  (_, block) => {
    const code = normalized(block)
    expect(
      examples.filter((example) => example.code.includes(code)).map((example) => example.name),
      `not found in examples/*.ts:\n${block}`,
    ).not.toEqual([])
  },
)
