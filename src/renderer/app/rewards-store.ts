/**
 * Rewards this window has received, kept in sessionStorage so a reload shows the same total and
 * the ids prove that a Reliable subscription lost nothing across it.
 */
import type { RewardEvent } from '../../shared/catalog.js'

const KEY = 'skelly.rewards'

/** What the window keeps of each reward: enough to total the points and tell redeliveries apart. */
export type StoredReward = Pick<RewardEvent, 'rewardId' | 'points' | 'description'>

/**
 * Whether `value` is a reward as {@link addReward} stores it. Checked by hand, not with the
 * catalog's zod schema, which would bring zod and the catalog into a window whose script is 12 kB.
 */
function isStoredReward(value: unknown): value is StoredReward {
  if (typeof value !== 'object' || value === null) return false
  const { rewardId, points, description } = value as Record<string, unknown>
  return typeof rewardId === 'string' && Number.isFinite(points) && typeof description === 'string'
}

/**
 * The rewards kept so far in this tab. What is not a list of rewards (edited by hand, or left by
 * another version) is left out rather than breaking the window: a list that is no list reads as
 * none, an entry that is no reward is skipped.
 */
export function loadRewards(): StoredReward[] {
  let stored: unknown
  try {
    stored = JSON.parse(sessionStorage.getItem(KEY) ?? '[]')
  } catch {
    return []
  }
  return Array.isArray(stored) ? stored.filter(isStoredReward) : []
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
