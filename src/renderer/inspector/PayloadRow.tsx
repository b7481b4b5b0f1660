/**
 * The row under a message's row in a table: the whole message, as `show` writes it, across every
 * column, with the view's `actions` on it above it, if any.
 */
import type { ComponentChildren } from 'preact'
import { show } from './format.js'

export function PayloadRow({
  message,
  columns,
  testId,
  actions,
}: {
  message: unknown
  columns: number
  testId?: string
  actions?: ComponentChildren
}) {
  return (
    <tr class="payload-row">
      <td colSpan={columns}>
        {actions && <div class="payload-actions">{actions}</div>}
        <pre class="payload" data-testid={testId}>
          {show(message)}
        </pre>
      </td>
    </tr>
  )
}
