/** Reading what a page shows, shared by the headless and the Electron specs. */

/** The number a cell shows, its group separators and units left out ("12,345" → 12345). */
export const numberIn = (text: string | null): number => Number((text ?? '').replace(/[^\d]/g, ''))
