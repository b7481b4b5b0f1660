/** The row under a message's row in a table: the whole message, as `show` writes it, across every column. */
import { show } from './format.js'

export function PayloadRow({
  message,
  columns,
  testId,
}: {
  message: unknown
  columns: number
  testId?: string
}) {
  return (
    <tr class="payload-row">
      <td colSpan={columns}>
        <pre class="payload" data-testid={testId}>
          {show(message)}
        </pre>
      </td>
    </tr>
  )
}
