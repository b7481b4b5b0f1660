/** The hub's memory of a connection's last publishes: bounded, the oldest forgotten first. */
import { expect, it } from 'vitest'
import { TAKEN_MEMORY, TakenIds } from '../../src/main/hub/taken-ids.js'

it('remembers the last TAKEN_MEMORY ids and forgets the oldest first', () => {
  const taken = new TakenIds()
  const ids = Array.from({ length: TAKEN_MEMORY + 2 }, (_, i) => `id-${i}`)
  for (const id of ids) taken.add(id)
  expect(taken.has('id-0')).toBe(false)
  expect(taken.has('id-1')).toBe(false)
  for (const id of ids.slice(2)) expect(taken.has(id)).toBe(true)
  expect(taken.has('never')).toBe(false)
})
