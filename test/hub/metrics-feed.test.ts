/**
 * The hub's metrics feed keeps a bounded history of charted points whether or not anyone watches,
 * without taking whole snapshots for it, and stops with the hub.
 */
import { expect, it, vi } from 'vitest'
import { createEventBus } from '../../src/main/bus/index.js'
import { busInternals, type WithInternals } from '../../src/main/bus/internal.js'
import { MetricsFeed } from '../../src/main/hub/metrics-feed.js'
import { waitFor } from '../helpers.js'
import { afterThisTest } from './fixture.js'

it('keeps the latest points only, unwatched, and takes none once closed', async () => {
  const bus = createEventBus({ metricsIntervalMs: 10 })
  await bus.start()
  afterThisTest(() => bus.shutdown())
  const snapshots = vi.spyOn(bus, 'metrics')
  const feed = new MetricsFeed(bus, (bus as unknown as WithInternals)[busInternals], 3)
  await waitFor(() => feed.history().length === 3)
  expect(snapshots).not.toHaveBeenCalled() // nobody watches: points only
  const first = feed.history()[0]?.collectedAt.getTime() ?? 0
  await waitFor(() => (feed.history()[0]?.collectedAt.getTime() ?? 0) > first) // the oldest went
  expect(feed.history()).toHaveLength(3)
  let watched = 0
  feed.watch(() => watched++)
  feed.close()
  const kept = feed.history()
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(feed.history()).toEqual(kept)
  expect(watched).toBeLessThanOrEqual(1) // a snapshot already under way when it closed, at most
})
