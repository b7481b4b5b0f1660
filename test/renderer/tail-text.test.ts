import { describe, expect, it } from 'vitest'
import { oneLine, show } from '../../src/renderer/inspector/format.js'
import { dataLine, matchesSearch } from '../../src/renderer/inspector/tail-text.js'

const data = {
  requestId: 'Req-7',
  at: new Date('2026-12-03T10:00:00.000Z'),
  big: 12345678901234567890n,
  tags: new Set(['focus']),
  scores: new Map([['today', 3]]),
  nested: { list: [1, 'two'] },
}

describe('payloads as the inspector writes them', () => {
  it('writes one line with each type kept, where JSON.stringify would throw on the BigInt', () => {
    expect(() => JSON.stringify(data)).toThrow(/BigInt/)
    expect(oneLine(data)).toBe(
      '{ requestId: "Req-7", at: Date(2026-12-03T10:00:00.000Z), big: 12345678901234567890n, ' +
        'tags: Set { "focus" }, scores: Map { "today" => 3 }, nested: { list: [ 1, "two" ] } }',
    )
  })

  it('lays the same value out one item a line, indented, by default', () => {
    expect(show({ nested: { list: [1] }, empty: [] })).toBe(
      '{\n  nested: {\n    list: [\n      1\n    ]\n  },\n  empty: []\n}',
    )
  })

  it('writes an invalid Date as such instead of throwing', () => {
    expect(oneLine({ at: new Date(Number.NaN) })).toBe('{ at: Date(invalid) }')
  })
})

describe('the message tail’s search', () => {
  const request = { id: 'AB12-request', payload: { data } }
  const reply = { id: 'cd34-reply', correlationId: 'AB12-request', payload: { data: { text: 'ok' } } }
  const other = { id: 'ef56', payload: { data: { text: 'unrelated' } } }
  const found = (query: string) =>
    [request, reply, other].filter((m) => matchesSearch(m, query)).map((m) => m.id)

  it('finds a request and the replies that name it by the request’s id, ignoring case', () => {
    expect(found('ab12-REQUEST')).toEqual(['AB12-request', 'cd34-reply'])
  })

  it('reads the data as the summary column writes it, types included', () => {
    expect(dataLine(request)).toBe(oneLine(data))
    expect(found('req-7')).toEqual(['AB12-request'])
    expect(found('Set { "focus" }')).toEqual(['AB12-request'])
    expect(found('12345678901234567890n')).toEqual(['AB12-request'])
  })

  it('keeps every message for an empty or blank query, and none for text nowhere in them', () => {
    expect(found('  ')).toHaveLength(3)
    expect(found('')).toHaveLength(3)
    expect(found('nowhere')).toEqual([])
  })

  it('matches within one of the id, the correlation id and the data, not across where they meet', () => {
    expect(found('replyab12')).toEqual([]) // the reply's id, then its correlation id
    expect(found('ef56{')).toEqual([]) // an id, then the data of a message with no correlation id
  })
})
