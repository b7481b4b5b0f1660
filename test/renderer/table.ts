/** Reading a rendered inspector table the way its user does: each row's cells by column heading. */

/** The cells of `table`'s body rows, keyed by their column's heading. */
export function rowsByHeading(table: Element): Record<string, HTMLTableCellElement>[] {
  const headings = [...table.querySelectorAll('thead th')].map((th) => th.textContent?.trim() ?? '')
  return [...table.querySelectorAll('tbody tr')].map((row) =>
    Object.fromEntries(
      [...row.querySelectorAll<HTMLTableCellElement>(':scope > td')].map((cell, i) => [
        headings[i] ?? `#${i}`,
        cell,
      ]),
    ),
  )
}

/** The text of each cell of `row`, by heading. */
export function textsOf(row: Record<string, HTMLTableCellElement>): Record<string, string> {
  return Object.fromEntries(Object.entries(row).map(([heading, cell]) => [heading, cell.textContent ?? '']))
}
