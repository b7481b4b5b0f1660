/** Reading a rendered inspector table the way its user does: each row's cells by column heading. */

/** The cells of the body rows of the table `root` holds with test id `testId` (none without one), keyed by their column's heading. */
export function rowsByHeading(root: Element, testId: string): Record<string, HTMLTableCellElement>[] {
  const table = root.querySelector(`[data-testid=${testId}]`)
  if (table === null) return []
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
