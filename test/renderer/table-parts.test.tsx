// @vitest-environment happy-dom
/** The parts the inspector's tables share: a filter's select, and the row that shows a whole message. */
import { render } from 'preact'
import { describe, expect, it, vi } from 'vitest'
import { FilterSelect } from '../../src/renderer/inspector/FilterSelect.js'
import { show } from '../../src/renderer/inspector/format.js'
import { PayloadRow } from '../../src/renderer/inspector/PayloadRow.js'
import { windowRoot } from './view-stubs.js'

const root = windowRoot()

describe('a filter’s select', () => {
  it('offers all and the values seen, sorted, and keeps the chosen one listed when none carries it', () => {
    const onChange = vi.fn()
    render(
      <FilterSelect
        label="module"
        values={['storage', 'ai-integration', 'storage']}
        value="gamification"
        onChange={onChange}
        testId="filter"
      />,
      root,
    )
    const select = root.querySelector('select') as HTMLSelectElement
    expect([...select.options].map((option) => option.textContent)).toEqual([
      'all',
      'ai-integration',
      'gamification',
      'storage',
    ])
    expect(select.value).toBe('gamification')
  })
})

describe('a message’s payload row', () => {
  it('spans every column, its actions above the message as the tables write it', () => {
    const message = { id: 'm-1', payload: { type: 'RawEvent', data: { key: 'a' } } }
    render(
      <table>
        <tbody>
          <PayloadRow
            message={message}
            columns={7}
            testId="payload"
            actions={<button type="button">Replay</button>}
          />
        </tbody>
      </table>,
      root,
    )
    const cell = root.querySelector('tr.payload-row td') as HTMLTableCellElement
    expect(cell.colSpan).toBe(7)
    expect(cell.querySelector('.payload-actions')?.textContent).toBe('Replay')
    expect(cell.querySelector('[data-testid=payload]')?.textContent).toBe(show(message))
  })
})
