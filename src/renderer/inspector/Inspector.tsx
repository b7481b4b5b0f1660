/** The bus inspector (first cut: the overview numbers; issue 5 fills in the rest). */
import { useEffect, useState } from 'preact/hooks'
import type { SkellyBusApi } from '../../preload/skelly-bus.js'
import type { BusMetrics } from '../../shared/metrics-snapshot.js'

export function Inspector({ bus }: { bus: SkellyBusApi }) {
  const [metrics, setMetrics] = useState<BusMetrics>()
  useEffect(() => bus.onMetrics(setMetrics), [bus])
  return (
    <main class="inspector">
      <h1>Bus inspector</h1>
      <p data-testid="published">{metrics?.messagesPublished ?? '…'}</p>
    </main>
  )
}
