/**
 * The Electron app's menu, for each platform: the roles that make the system's editing keys work
 * in a window's fields, and View → Bus inspector on its accelerator.
 */
import { describe, expect, it, vi } from 'vitest'
import { appMenuTemplate, INSPECTOR_MENU_ID } from '../../src/main/electron/app-menu.js'

const roles = (platform: NodeJS.Platform) => appMenuTemplate(platform, () => {}).map((item) => item.role)

describe('the app menu', () => {
  it('has an Edit menu on every platform: on macOS, Cmd+C and Cmd+V do nothing in a field without one', () => {
    for (const platform of ['darwin', 'linux', 'win32'] as const)
      expect(roles(platform)).toContain('editMenu')
  })

  it('has the app menu (About, Hide, Quit) on macOS only', () => {
    expect(roles('darwin')[0]).toBe('appMenu')
    expect(roles('linux')).not.toContain('appMenu')
    expect(roles('win32')).not.toContain('appMenu')
  })

  it('opens the bus inspector from View, on Ctrl/Cmd+Shift+B', () => {
    const showInspector = vi.fn()
    const view = appMenuTemplate('linux', showInspector).find((item) => item.label === 'View')
    const submenu = Array.isArray(view?.submenu) ? view.submenu : []
    const item = submenu.find((entry) => entry.label === 'Bus inspector')
    expect(item?.accelerator).toBe('CmdOrCtrl+Shift+B')
    // The Electron end-to-end specs find it by this id (Menu.getMenuItemById).
    expect(item?.id).toBe(INSPECTOR_MENU_ID)
    item?.click?.({} as never, undefined, {} as never)
    expect(showInspector).toHaveBeenCalledOnce()
  })
})
