// @vitest-environment happy-dom
/** The app window's rewards, kept in sessionStorage across a reload, and what it makes of a value it did not write. */
import { afterEach, describe, expect, it } from 'vitest'
import { addReward, loadRewards } from '../../src/renderer/app/rewards-store.js'

afterEach(() => sessionStorage.clear())

const reward = (rewardId: string, points: number) => ({
  rewardId,
  rewardType: 'streak',
  points,
  description: `${points} points`,
})
const KEY = 'skelly.rewards'

describe('the rewards a window keeps', () => {
  it('come back after a reload, each once however often it was delivered', () => {
    expect(loadRewards()).toEqual([])
    let kept = addReward(loadRewards(), reward('r1', 5))
    kept = addReward(kept, reward('r2', 3))
    expect(addReward(kept, reward('r1', 5))).toBe(kept)
    expect(loadRewards()).toEqual([
      { rewardId: 'r1', points: 5, description: '5 points' },
      { rewardId: 'r2', points: 3, description: '3 points' },
    ])
  })

  it.each([
    ['not JSON', '[{"rewardId":'],
    ['no list', '{"rewardId":"r1","points":5,"description":"x"}'],
    ['a number', '12'],
    ['null', 'null'],
  ])('read as none when what is stored is %s', (_, stored) => {
    sessionStorage.setItem(KEY, stored)
    expect(loadRewards()).toEqual([])
  })

  it('leave out the entries of a stored list that are no reward', () => {
    const good = { rewardId: 'r1', points: 5, description: 'five' }
    sessionStorage.setItem(
      KEY,
      JSON.stringify([
        good,
        null,
        'r2',
        { rewardId: 7, points: 1, description: 'id no string' },
        { rewardId: 'r3', points: '1', description: 'points no number' },
        { rewardId: 'r4', points: null, description: 'points null' },
        { rewardId: 'r5', points: 1 },
      ]),
    )
    expect(loadRewards()).toEqual([good])
  })
})
