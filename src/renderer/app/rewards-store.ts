/**
 * Rewards this window has received, kept in sessionStorage so a reload shows the same total and
 * the ids prove that a Reliable subscription lost nothing across it.
 */
import type { RewardEvent } from '../../shared/catalog.js'

const KEY = 'skelly.rewards'

export interface StoredReward {
  rewardId: string
  points: number
  description: string
}

export function loadRewards(): StoredReward[] {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as StoredReward[]
  } catch {
    return []
  }
}

/** Adds a reward unless it is already there (a Reliable redelivery); returns the new list. */
export function addReward(rewards: StoredReward[], reward: RewardEvent): StoredReward[] {
  if (rewards.some((known) => known.rewardId === reward.rewardId)) return rewards
  const next = [
    ...rewards,
    { rewardId: reward.rewardId, points: reward.points, description: reward.description },
  ]
  sessionStorage.setItem(KEY, JSON.stringify(next))
  return next
}
