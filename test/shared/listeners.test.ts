/** Calling an application's listeners: each its own copy of a snapshot, none starving the others. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { notifyEachOwnCopy } from '../../src/shared/listeners.js'

afterEach(() => {
  vi.restoreAllMocks()
})

type Snapshot = { published: number; at: Date; modules: { name: string }[] }
const snapshot = (): Snapshot => ({ published: 5, at: new Date(1000), modules: [{ name: 'storage' }] })

describe('notifyEachOwnCopy', () => {
  it('hands the first listener the original and each other one a copy made before any ran', () => {
    const original = snapshot()
    const got: Snapshot[] = []
    const listeners = new Set<(value: Snapshot, sampled: boolean) => void>([
      (value) => {
        got.push(value)
        value.published = -1
        value.at.setTime(0)
        value.modules.pop()
      },
      (value) => got.push(value),
      (value) => got.push(value),
    ])
    notifyEachOwnCopy(listeners, 'metrics', original, false)
    expect(got[0]).toBe(original)
    expect(got.slice(1)).toEqual([snapshot(), snapshot()])
    expect(got[1]).not.toBe(got[2])
    expect(got[1]?.at).not.toBe(got[2]?.at)
  })

  it('does not call a listener an earlier one stopped, and calls one added meanwhile from the next time', () => {
    const calls: string[] = []
    const listeners = new Set<(value: Snapshot) => void>()
    const late = () => calls.push('late')
    const stopped = () => calls.push('stopped')
    listeners.add(() => {
      calls.push('first')
      listeners.delete(stopped)
      listeners.add(late)
    })
    listeners.add(stopped)
    notifyEachOwnCopy(listeners, 'metrics', snapshot())
    expect(calls).toEqual(['first'])
    notifyEachOwnCopy(listeners, 'metrics', snapshot())
    expect(calls).toEqual(['first', 'first', 'late'])
  })

  it('reports a listener that throws and still calls the others, each with its copy', () => {
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    const published: number[] = []
    const listeners = new Set<(value: Snapshot) => void>([
      (value) => {
        value.published = 7
        throw new Error('a bug in the page')
      },
      (value) => published.push(value.published),
    ])
    notifyEachOwnCopy(listeners, 'tail', snapshot())
    expect(published).toEqual([5])
    expect(reported).toHaveBeenCalledWith('skelly-bus: a tail listener threw: Error: a bug in the page')
  })

  it('shares what cannot be copied, says so, and still calls every listener', () => {
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    const uncloneable = { published: 5, at: new Date(1000), modules: [], format: () => 'a function' }
    const got: unknown[] = []
    const listeners = new Set<(value: typeof uncloneable) => void>([
      (value) => got.push(value),
      (value) => got.push(value),
    ])
    notifyEachOwnCopy(listeners, 'tail', uncloneable)
    expect(got).toEqual([uncloneable, uncloneable])
    expect(got[1]).toBe(uncloneable)
    expect(reported).toHaveBeenCalledWith(
      expect.stringMatching(
        /^skelly-bus: a tail listener shares the tail it gets, which could not be copied: DataCloneError/,
      ),
    )
  })
})
