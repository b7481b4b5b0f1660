/**
 * The modules' start-up options: a host refuses a module or an option that is not one, or a value
 * a module would not take, before it starts anything; what it accepts reaches the module parsed,
 * defaults filled in, and a ConfigUpdate's value is checked by the same schema.
 */
import { describe, expect, it } from 'vitest'
import { ALL_MODULES } from '../../src/main/host/modules-list.js'
import { moduleDefinitions } from '../../src/modules/index.js'
import { checkModuleSettings, moduleOptionSchemas, settingValue } from '../../src/modules/options.js'

describe('module options', () => {
  it('lists every module the runners have, in their start order, as the modules the hosts run', () => {
    // The schemas are the main process's list of ids; the runners' is the modules' code.
    expect(ALL_MODULES).toEqual(Object.keys(moduleDefinitions))
  })

  it('accepts every module the hosts run, and options each takes', () => {
    expect(() =>
      checkModuleSettings(ALL_MODULES, {
        'data-capture': { rate: 40, phaseMs: 2500 },
        storage: { batchMs: 600, fsyncMs: 100, maxFileBytes: 1024, keepFiles: 1 },
        gamification: { cooldownMs: 0 },
      }),
    ).not.toThrow()
    expect(() => checkModuleSettings([], undefined)).not.toThrow()
  })

  it('refuses, naming it, a module or an option that is not one, and a value its module would not take', () => {
    const refusals: [readonly string[], Record<string, Record<string, unknown>>, string][] = [
      [
        ['storag'],
        {},
        "modules names 'storag', which is not a module (there are data-capture, storage, analysis-engine, gamification, ai-integration)",
      ],
      [
        [],
        { 'data-capture': { rate: 5 }, Storage: {} },
        "moduleOptions names 'Storage', which is not a module",
      ],
      [[], { storage: { batchMS: 600 } }, 'moduleOptions.storage: Unrecognized key: "batchMS"'],
      [
        [],
        { 'data-capture': { rate: 'fast' } },
        'moduleOptions.data-capture.rate: Invalid input: expected number, received string',
      ],
      [
        [],
        { gamification: { cooldownMs: -1 } },
        'moduleOptions.gamification.cooldownMs: Too small: expected number to be >=0',
      ],
      [
        [],
        { storage: { keepFiles: 0 } },
        'moduleOptions.storage.keepFiles: Too small: expected number to be >=1',
      ],
      [
        [],
        { storage: { maxFileBytes: 1.5 } },
        'moduleOptions.storage.maxFileBytes: Invalid input: expected int, received number',
      ],
      [[], { 'ai-integration': { rate: 1 } }, 'moduleOptions.ai-integration: Unrecognized key: "rate"'],
    ]
    for (const [modules, options, reason] of refusals) {
      expect(() => checkModuleSettings(modules, options as never), reason).toThrow(
        expect.objectContaining({ kind: 'Configuration', reason: expect.stringContaining(reason) }),
      )
    }
  })

  it('fills in the defaults of what a host leaves out', () => {
    expect(moduleOptionSchemas.storage.parse({ batchMs: 600 })).toEqual({
      batchMs: 600,
      fsyncMs: 250,
      maxFileBytes: 64 * 1024 * 1024,
      keepFiles: 3,
    })
    expect(moduleOptionSchemas.gamification.parse({})).toEqual({ cooldownMs: 20_000 })
  })

  it('checks a ConfigUpdate’s value as the start-up option, and says what the setting takes', () => {
    expect(settingValue(moduleOptionSchemas.gamification, 'cooldownMs', 0)).toBe(0)
    expect(() => settingValue(moduleOptionSchemas['data-capture'], 'rate', null)).toThrow(
      "'rate' takes events per second, above 0 (got null)",
    )
    expect(() => settingValue(moduleOptionSchemas.storage, 'maxFileBytes', 10.5)).toThrow(
      "'maxFileBytes' takes bytes, a whole number above 0 (got 10.5)",
    )
  })
})
