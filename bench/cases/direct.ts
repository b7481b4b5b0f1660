/**
 * A direct route at full speed: DataCapture in worker A → Storage in worker B over the port pair
 * the hub brokered (one hop), against the same traffic through the hub (two hops) and raw
 * one-hop postMessage of the same message objects in arrays (the batching a busy link produces).
 */
import { type CaseDefinition, throughput } from '../harness.js'
import { pair, send } from './cross-thread.js'

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
  async run(variant, { quick }) {
    const p = await pair(variant)
    try {
      const total = quick ? 20_000 : variant.startsWith('via') ? 200_000 : 500_000
      await send(p, Math.min(total, 20_000)) // warm-up
      const { ms } = await send(p, total)
      return [throughput('messages/s', total, ms)]
    } finally {
      await p.close()
    }
  },
}
