// @vitest-environment happy-dom
/**
 * The inspector's message tail fed batches made to order through `useTail`: each column by its
 * heading, every filter and the search, pausing, sampling, a row opened to its payload and its
 * conversation. Every row is drawn (no layout here; Playwright's tests scroll a real one).
 */
import { render } from 'preact'
import { act } from 'preact/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { BusMessage, MessagePayload, MessagePriority, ModuleId } from '../../src/main/bus/index.js'
import type { SkellyBusApi } from '../../src/preload/skelly-bus.js'
import { TAIL_SIZE, useTail } from '../../src/renderer/inspector/feeds.js'
import { clockTime, show } from '../../src/renderer/inspector/format.js'
import { Tail } from '../../src/renderer/inspector/Tail.js'
import type { Envelope } from '../../src/shared/message.js'
import type { TailEntry } from '../../src/shared/wire.js'
import { rawEvent } from '../helpers.js'
import { rowsByHeading, textsOf } from './table.js'
import { stream, windowRoot } from './view-stubs.js'

vi.mock('../../src/renderer/inspector/windowed-rows.js', async (original) => ({
  ...(await original<typeof import('../../src/renderer/inspector/windowed-rows.js')>()),
  useWindowedRows: (await import('./view-stubs.js')).everyRowDrawn,
}))

const root = windowRoot()

/** The tail as the inspector shows it, fed by a bus whose `send` hands it one batch. */
async function showTail() {
  const batches = stream<{ entries: TailEntry[]; sampled: boolean }>()
  const bus = {
    onTail: (listener: (entries: TailEntry[], sampled: boolean) => void) =>
      batches.listen(({ entries, sampled }) => listener(entries, sampled)),
  } as unknown as SkellyBusApi
  function LiveTail() {
    return <Tail tail={useTail(bus)} />
  }
  await act(() => render(<LiveTail />, root))
  return {
    send: (messages: Envelope[], { sampled = false, routedTo = 1 } = {}) =>
      batches.send({ entries: messages.map((message) => ({ message, routedTo })), sampled }),
    batches,
  }
}

/** A message published `seconds` past noon, today. */
function publishedAt<M extends Envelope>(message: M, seconds: number): M {
  return { ...message, timestamp: new Date(2026, 11, 7, 12, 0, seconds, 250) }
}
const keystroke = (key: string, seconds: number, priority: MessagePriority = MessagePriority.Normal) =>
  publishedAt(
    BusMessage.withPriority(
      ModuleId.DataCapture,
      MessagePayload.RawEvent(rawEvent({ data: { key } })),
      priority,
    ),
    seconds,
  )
const moduleReady = (module: string, seconds: number) =>
  publishedAt(BusMessage.create(module, MessagePayload.ModuleReady(module)), seconds)

const rows = () => rowsByHeading(root, 'tail').filter((row) => row.type !== undefined)
const typesShown = () => rows().map((row) => row.type?.textContent)
const shownLine = () => root.querySelector('[data-testid=tail-shown]')?.textContent
const control = <E extends HTMLElement>(testId: string) => {
  const element = root.querySelector<E>(`[data-testid=${testId}]`)
  if (element === null) throw new Error(`no ${testId}`)
  return element
}
async function choose(testId: string, value: string) {
  const select = control<HTMLSelectElement>(testId)
  select.value = value
  await act(() => {
    select.dispatchEvent(new Event('change'))
  })
}
async function search(query: string) {
  const input = control<HTMLInputElement>('tail-search')
  input.value = query
  await act(() => {
    input.dispatchEvent(new Event('input'))
  })
}
const click = (element: HTMLElement) => act(() => element.click())

describe('the message tail', () => {
  it('shows each message’s time, type, source, priority, subscriptions reached and data, newest first', async () => {
    const tail = await showTail()
    const older = keystroke('q', 1, MessagePriority.High)
    const newer = moduleReady(ModuleId.Storage, 2)
    await tail.send([newer], { routedTo: 3 })
    await tail.send([older], { routedTo: 7 })

    expect(rows().map(textsOf)).toEqual([
      {
        time: clockTime(newer.timestamp, true),
        type: 'ModuleReady',
        source: ModuleId.Storage,
        priority: 'Normal',
        'routed to': '3',
        summary: '"storage"',
      },
      {
        time: clockTime(older.timestamp, true),
        type: 'RawEvent',
        source: ModuleId.DataCapture,
        priority: 'High',
        'routed to': '7',
        summary: expect.stringContaining('key: "q"'),
      },
    ])
    expect(rows()[0]?.time?.textContent).toMatch(/^\d\d:\d\d:02\.250$/)
    expect(shownLine()).toBe('2 shown · 2 seen')
  })

  it('cuts a long data line to 120 characters', async () => {
    const tail = await showTail()
    await tail.send([keystroke('x'.repeat(300), 1)])
    expect(rows()[0]?.summary?.textContent).toHaveLength(120)
  })

  it('marks a reply, naming the message it answers, and nothing else', async () => {
    const tail = await showTail()
    const request = moduleReady(ModuleId.Gamification, 1)
    const reply = publishedAt(
      BusMessage.replyTo(request, ModuleId.AiIntegration, MessagePayload.ModuleReady(ModuleId.AiIntegration)),
      2,
    )
    await tail.send([request, reply])
    const marks = root.querySelectorAll('[data-testid=tail-reply-mark]')
    expect(marks).toHaveLength(1)
    expect(rows()[0]?.type?.textContent).toBe('↩ ModuleReady')
    expect(marks[0]?.getAttribute('title')).toContain(request.id)
    expect(rows()[1]?.type?.textContent).toBe('ModuleReady')
  })

  it('filters by type and by source, each listing the values seen, sorted', async () => {
    const tail = await showTail()
    await tail.send([
      keystroke('a', 1),
      moduleReady(ModuleId.Storage, 2),
      moduleReady(ModuleId.Gamification, 3),
    ])
    const optionsOf = (testId: string) =>
      [...control(testId).querySelectorAll('option')].map((o) => o.textContent)
    expect(optionsOf('tail-type')).toEqual(['all', 'ModuleReady', 'RawEvent'])
    expect(optionsOf('tail-source')).toEqual(['all', 'data-capture', 'gamification', 'storage'])

    await choose('tail-type', 'ModuleReady')
    expect(rows().map((row) => row.source?.textContent)).toEqual([ModuleId.Gamification, ModuleId.Storage])
    expect(shownLine()).toBe('2 shown · 3 seen')
    await choose('tail-source', ModuleId.Storage)
    expect(rows().map((row) => row.source?.textContent)).toEqual([ModuleId.Storage])
    await choose('tail-type', '')
    await choose('tail-source', ModuleId.DataCapture)
    expect(typesShown()).toEqual(['RawEvent'])
  })

  it('shows messages at or above the priority chosen', async () => {
    const tail = await showTail()
    await tail.send([
      keystroke('low', 1, MessagePriority.Low),
      keystroke('normal', 2, MessagePriority.Normal),
      keystroke('high', 3, MessagePriority.High),
      keystroke('critical', 4, MessagePriority.Critical),
    ])
    const priorities = () => rows().map((row) => row.priority?.textContent)
    expect(priorities()).toEqual(['Critical', 'High', 'Normal', 'Low'])
    await choose('tail-priority', String(MessagePriority.High))
    expect(priorities()).toEqual(['Critical', 'High'])
    await choose('tail-priority', String(MessagePriority.Low))
    expect(priorities()).toHaveLength(4)
  })

  it('searches ids, correlation ids and data, ignoring case', async () => {
    const tail = await showTail()
    const request = keystroke('Needle', 1)
    const reply = publishedAt(
      BusMessage.replyTo(request, ModuleId.Storage, MessagePayload.ModuleReady(ModuleId.Storage)),
      2,
    )
    const other = keystroke('hay', 3)
    await tail.send([request, reply, other])
    await search('  needle ')
    expect(rows().map((row) => row.summary?.textContent)).toEqual([expect.stringContaining('Needle')])
    await search(request.id.toUpperCase())
    expect(typesShown()).toEqual(['↩ ModuleReady', 'RawEvent'])
    await search(other.id)
    expect(rows()).toHaveLength(1)
    expect(shownLine()).toBe('1 shown · 3 seen')
  })

  it('pauses: what comes while paused is counted but never shown, and what comes after is', async () => {
    const tail = await showTail()
    await tail.send([keystroke('before', 1)])
    await click(control('tail-pause'))
    expect(control('tail-pause').textContent).toBe('Resume')
    await tail.send([keystroke('during', 2), keystroke('during', 3)])
    expect(rows()).toHaveLength(1)
    expect(shownLine()).toBe('1 shown · 3 seen · paused')

    await click(control('tail-pause'))
    expect(control('tail-pause').textContent).toBe('Pause')
    await tail.send([keystroke('after', 4)])
    expect(rows().map((row) => row.summary?.textContent)).toEqual([
      expect.stringContaining('after'),
      expect.stringContaining('before'),
    ])
    expect(shownLine()).toBe('2 shown · 4 seen')
  })

  it('says it samples while the latest batch was sampled, and stops saying so after one that was not', async () => {
    const tail = await showTail()
    const sampling = () => root.querySelector('[data-testid=tail-sampled]') !== null
    await tail.send([keystroke('a', 1)])
    expect(sampling()).toBe(false)
    await tail.send([keystroke('b', 2)], { sampled: true })
    expect(sampling()).toBe(true)
    // The pause hides messages, not the hub's word on whether it skips some.
    await click(control('tail-pause'))
    await tail.send([keystroke('c', 3)], { sampled: false })
    expect(sampling()).toBe(false)
  })

  it(`keeps the ${TAIL_SIZE} newest messages and counts every one seen`, async () => {
    const tail = await showTail()
    await tail.send(Array.from({ length: TAIL_SIZE + 2 }, (_, i) => keystroke(`k${i}`, i)))
    expect(rows()).toHaveLength(TAIL_SIZE)
    expect(rows()[0]?.summary?.textContent).toContain(`k${TAIL_SIZE + 1}`)
    expect(rows().at(-1)?.summary?.textContent).toContain('k2"')
    expect(shownLine()).toBe(`${TAIL_SIZE} shown · ${TAIL_SIZE + 2} seen`)
  })

  it('opens a row to its whole message, counted in the ARIA rows, until it is clicked again', async () => {
    const tail = await showTail()
    const opened = keystroke('open me', 2)
    await tail.send([keystroke('first', 1), opened, keystroke('third', 3)])
    const table = control('tail')
    const rowElements = () => [...root.querySelectorAll<HTMLElement>('[data-testid=tail-row]')]
    expect(table.getAttribute('aria-rowcount')).toBe('4')
    expect(rowElements().map((row) => row.getAttribute('aria-rowindex'))).toEqual(['2', '3', '4'])

    const middle = rowElements()[1] as HTMLElement
    await click(middle)
    expect(middle.getAttribute('aria-expanded')).toBe('true')
    expect(control('tail-payload').textContent).toBe(show(opened))
    expect(table.getAttribute('aria-rowcount')).toBe('5')
    // The payload's row is row 4: the entry under it is row 5.
    expect(rowElements().map((row) => row.getAttribute('aria-rowindex'))).toEqual(['2', '3', '5'])

    // It stays open, on the same message, as newer ones arrive above it.
    await tail.send([keystroke('fourth', 4)])
    expect(control('tail-payload').textContent).toBe(show(opened))

    await click(rowElements()[2] as HTMLElement)
    expect(root.querySelector('[data-testid=tail-payload]')).toBeNull()
    expect(table.getAttribute('aria-rowcount')).toBe('5')
  })

  it('opens a row from the keyboard with Enter or Space, and no other key', async () => {
    const tail = await showTail()
    await tail.send([keystroke('a', 1)])
    const row = control('tail-row')
    expect(row.tabIndex).toBe(0)
    const press = (key: string) =>
      act(() => {
        row.dispatchEvent(new KeyboardEvent('keydown', { key, cancelable: true }))
      })
    await press('a')
    expect(row.getAttribute('aria-expanded')).toBe('false')
    await press('Enter')
    expect(row.getAttribute('aria-expanded')).toBe('true')
    await press(' ')
    expect(row.getAttribute('aria-expanded')).toBe('false')
  })

  it('shows an open message’s conversation: from a request, or from a reply, the request and its replies', async () => {
    const tail = await showTail()
    const request = moduleReady(ModuleId.Gamification, 1)
    const reply = publishedAt(
      BusMessage.replyTo(request, ModuleId.AiIntegration, MessagePayload.ModuleReady(ModuleId.AiIntegration)),
      2,
    )
    await tail.send([request, reply, keystroke('unrelated', 3)])
    const rowOf = (source: string) =>
      [...root.querySelectorAll<HTMLElement>('[data-testid=tail-row]')].find(
        (row) => row.dataset.source === source,
      )

    // Opened from the reply, then from the request: either way the search is the request's id.
    for (const opened of [ModuleId.AiIntegration, ModuleId.Gamification]) {
      await search('')
      await click(rowOf(opened) as HTMLElement)
      await click(control('tail-conversation'))
      expect(control<HTMLInputElement>('tail-search').value).toBe(request.id)
      expect(rows().map((row) => row.source?.textContent)).toEqual([
        ModuleId.AiIntegration,
        ModuleId.Gamification,
      ])
    }
  })

  it('stops listening when it is closed', async () => {
    const tail = await showTail()
    expect(tail.batches.listening).toBe(1)
    await act(() => render(null, root))
    expect(tail.batches.listening).toBe(0)
  })
})
