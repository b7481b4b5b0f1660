/**
 * What an attachment may do. Permissions are chosen by the main process when it attaches a port;
 * nothing an endpoint sends can widen them.
 */
import { z } from 'zod'
import { type Catalog, isModuleId, notAModuleId } from '../../shared/catalog.js'
import { EventBusError, firstIssue } from '../../shared/errors.js'
import type { PlainFilter } from '../../shared/filter.js'
import { granted, type Permissions, permissionsSchema } from '../../shared/wire.js'

/**
 * Validates an attachment's identity and permissions, and gives the permissions back as a frozen
 * copy. A listed type must be in `catalog`: a misspelt one would otherwise grant nothing, and the
 * endpoint would be refused a type its attachment seems to grant.
 * @throws EventBusError `Configuration`
 */
export function checkAttachOptions(
  module: unknown,
  permissions: unknown,
  catalog: Catalog,
): { module: string; permissions: Permissions } {
  if (!isModuleId(module))
    throw EventBusError.of('Configuration', { reason: `attach: ${notAModuleId(module)}` })
  const parsedPermissions = permissionsSchema.safeParse(permissions)
  if (!parsedPermissions.success) {
    throw EventBusError.of('Configuration', {
      reason: `attach: ${firstIssue(parsedPermissions.error, 'permissions')} (expected { publish: types | '*', subscribe: types | '*', inspect?: boolean })`,
    })
  }
  // The hub's own copy (zod's output), not the caller's object.
  const checked = parsedPermissions.data
  for (const action of ['publish', 'subscribe'] as const) {
    const list = checked[action]
    if (list === '*') continue
    const unknown = list.find((type) => !Object.hasOwn(catalog, type))
    if (unknown !== undefined) {
      throw EventBusError.of('Configuration', {
        reason: `attach: permissions.${action} lists '${unknown}', which is not in the bus's catalog`,
      })
    }
    // The session checks every frame against these very lists, and the attachment hands them out:
    // a holder's push would grant a type unchecked.
    Object.freeze(list)
  }
  return { module, permissions: Object.freeze(checked) }
}

/** What `attach` does when the identity is attached already (see `AttachOptions.onDuplicate`). */
export const onDuplicateSchema = z.enum(['replace', 'refuse', 'allow'])

/** `attach`'s options' keys; the identity and permissions are checked by checkAttachOptions, whose errors say what they take. */
const attachOptionsSchema = z
  .object({
    module: z.unknown().optional(),
    permissions: z.unknown().optional(),
    onDuplicate: onDuplicateSchema.optional(),
  })
  .strict()

/**
 * Validates `attach`'s options whole: its identity and permissions (`checkAttachOptions`), and
 * `onDuplicate`, with no other key. A misspelt one is refused, not ignored: `onDuplicate: 'refuses'`
 * read as the default would end the very attachment it was meant to keep.
 * @throws EventBusError `Configuration`
 */
export function checkAttachArguments(
  options: unknown,
  catalog: Catalog,
): { module: string; permissions: Permissions; onDuplicate: z.infer<typeof onDuplicateSchema> } {
  const parsed = attachOptionsSchema.safeParse(options)
  if (!parsed.success)
    throw EventBusError.of('Configuration', { reason: `attach: ${firstIssue(parsed.error, 'options')}` })
  const { module, permissions, onDuplicate = 'replace' } = parsed.data
  return { ...checkAttachOptions(module, permissions, catalog), onDuplicate }
}

/**
 * The filter the hub applies for a subscription: every listed type must be granted; a filter
 * without types is narrowed to the granted ones.
 * @throws EventBusError `Unauthorized` naming the first ungranted type
 */
export function authorizeFilter(module: string, permissions: Permissions, filter: PlainFilter): PlainFilter {
  const allowed = permissions.subscribe
  if (filter.types === undefined) return allowed === '*' ? filter : { ...filter, types: [...allowed] }
  const forbidden = filter.types.find((type) => !granted(allowed, type))
  if (forbidden !== undefined)
    throw EventBusError.of('Unauthorized', { module, action: 'subscribe', type: forbidden })
  return filter
}

/** @throws EventBusError `Unauthorized` unless the attachment may inspect the bus */
export function assertMayInspect(module: string, permissions: Permissions): void {
  if (permissions.inspect !== true) throw EventBusError.of('Unauthorized', { module, action: 'inspect' })
}
