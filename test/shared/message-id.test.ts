import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'

/** The module afresh, so that its first id draws new random bytes (under whatever spy is set). */
async function freshNewMessageId(): Promise<() => string> {
  vi.resetModules()
  return (await import('../../src/shared/message-id.js')).newMessageId
}

const version4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newMessageId', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('writes the random bytes as a version 4 UUID, setting the version and variant bits', async () => {
    vi.spyOn(crypto, 'getRandomValues').mockImplementation((array) => {
      const bytes = array as Uint8Array
      for (let index = 0; index < bytes.length; index++) bytes[index] = 0xff - (index % 16) * 0x11 // ff … 00
      return array
    })
    const newMessageId = await freshNewMessageId()
    // Byte 6 (0x99) becomes 0x49: version 4 in its high nibble. Byte 8 (0x77) becomes 0xb7: its two
    // high bits are the variant, binary 10.
    expect(newMessageId()).toBe('ffeeddcc-bbaa-4988-b766-554433221100')
  })

  it('draws fresh randomness for every id, across draws, as ids zod and the envelope accept', async () => {
    const draws = vi.spyOn(crypto, 'getRandomValues')
    const newMessageId = await freshNewMessageId()
    const ids = Array.from({ length: 10_000 }, newMessageId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(version4)
    expect(z.array(z.uuid()).safeParse(ids).success).toBe(true)
    // 256 ids per draw: the 10,000 above took 40 draws, each of fresh bytes.
    expect(draws).toHaveBeenCalledTimes(40)
  })

  it('gives every hex digit and all four variants, so no bit is stuck', async () => {
    const newMessageId = await freshNewMessageId()
    const ids = Array.from({ length: 4_000 }, newMessageId)
    const randomDigits = new Set(ids.flatMap((id) => [...id.replaceAll('-', '').slice(13, 16)]))
    expect([...randomDigits].sort().join('')).toBe('0123456789abcdef')
    expect(new Set(ids.map((id) => id[19])).size).toBe(4)
  })
})
