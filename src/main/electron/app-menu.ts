/**
 * The Electron app's menu. On macOS the Edit menu is what makes Cmd+C, Cmd+V, Cmd+X and Cmd+A work
 * in a window's text fields (the inspector's search, for one): without its roles those keys do
 * nothing there. The app menu (About, Hide, Quit) exists on macOS only.
 */
import type { MenuItemConstructorOptions } from 'electron'

/** View → Bus inspector's id: the Electron end-to-end specs open the inspector through it. */
export const INSPECTOR_MENU_ID = 'bus-inspector'

/** The application menu's template for `platform`; `showInspector` opens or focuses the inspector. */
export function appMenuTemplate(
  platform: NodeJS.Platform,
  showInspector: () => void,
): MenuItemConstructorOptions[] {
  return [
    ...(platform === 'darwin' ? [{ role: 'appMenu' } as const] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        {
          id: INSPECTOR_MENU_ID,
          label: 'Bus inspector',
          accelerator: 'CmdOrCtrl+Shift+B',
          click: showInspector,
        },
        { role: 'reload' },
        { role: 'toggleDevTools' },
      ],
    },
    { role: 'windowMenu' },
  ]
}
