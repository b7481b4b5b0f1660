/**
 * Request and reply across threads, the comparison an RPC library invites: DataCapture in worker A
 * asks with `client.request` (up to 64 waiting at once), Storage in worker B answers each with a
 * reply; through the hub (two hops each way), answered by a reply sent unawaited or by
 * `client.respond`, over direct routes both ways (one hop each way), and
 * birpc's and comlink's calls between the same two threads (one hop each way), in the same run.
 */
import type { CaseDefinition } from '../harness.js'
import { measureThroughput } from './cross-thread.js'

export const requests: CaseDefinition = {
  name: 'requests',
  title: 'Request and reply across threads: worker A asks, worker B answers (requests answered/s)',
  variants: ['hub requests', 'hub respond', 'direct requests', 'birpc calls', 'comlink calls'],
  run: (variant, { quick }) => measureThroughput(variant, quick ? 20_000 : 200_000),
}
