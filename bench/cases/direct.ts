/**
 * A direct route at full speed: DataCapture in worker A → Storage in worker B over the port pair
 * the hub brokered (one hop), against the same traffic through the hub (two hops) and raw
 * one-hop postMessage of the same message objects in arrays (the batching a busy link produces).
 */
import type { CaseDefinition } from '../harness.js'
import { measureThroughput } from './cross-thread.js'

export const direct: CaseDefinition = {
  name: 'direct',
  title: 'Direct route DataCapture → Storage: one hop vs the hub path vs raw postMessage (messages/s)',
  variants: [
    'direct BestEffort',
    'direct Reliable',
    'via hub BestEffort',
    'via hub Reliable',
    'raw envelopes ×64',
    'raw envelopes ×1024',
  ],
  // The hub path is slower: fewer messages keep its runs as long as the others.
  run: (variant, { quick }) =>
    measureThroughput(variant, quick ? 20_000 : variant.startsWith('via') ? 200_000 : 500_000),
}
