/**
 * What makes a table row act as a button: a tab stop that a click, Enter or Space activates. The
 * tail's rows expand and the subscriptions' rows select, and a keyboard must reach both.
 */
export function activatableRow(activate: () => void) {
  return {
    tabIndex: 0,
    onClick: activate,
    onKeyDown: (event: KeyboardEvent) => {
      if (event.key !== 'Enter' && event.key !== ' ') return
      event.preventDefault() // Space would scroll the page as well
      activate()
    },
  }
}
