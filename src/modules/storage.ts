/**
 * Storage: receives RawEvents (Reliable) and appends them to `events.jsonl` in the data folder.
 * Writes are grouped (the events that arrive while one append runs go out in the next, with no
 * timer): a handler's promise (its ack) settles once its event is written, so an
 * acknowledged event is on disk (fsync'd in batches, every `fsyncMs`). The file rotates at
 * `maxFileBytes` (default 64 MiB) into `events.1.jsonl` …, keeping `keepFiles` (default 3) of
 * those, so a log the app writes all day stays bounded. It publishes StorageStatus every second
 * and, every `batchMs`, an EventBatch of what arrived since the last one. Trouble with its files (a
 * rotation or a flush that failed, a log found ending in a cut-off line) is said in its log and as
 * an `Error` message (`errorType: 'EventLog'`), which the inspector's Modules view shows. Each
 * of its options can be changed by a ConfigUpdate while it runs.
 */
import { ModuleId, type RawEvent } from '../shared/catalog.js'
import { DeliveryMode } from '../shared/delivery-mode.js'
import { describeThrown } from '../shared/errors.js'
import { MessageFilter } from '../shared/filter.js'
import { BusMessage, MessagePayload } from '../shared/message.js'
import { defineModule, errorReport } from './define.js'
import { openEventLog } from './event-log.js'
import { moduleOptionSchemas, settingValue } from './options.js'
import { skippedPublishes } from './skipped-publishes.js'

const MAX_BATCH_EVENTS = 500

export default defineModule({
  id: ModuleId.Storage,
  permissions: { publish: ['StorageStatus', 'EventBatch'], subscribe: ['RawEvent'] },
  options: moduleOptionSchemas.storage,
  async start(bus, { dataDir, options, log }) {
    const skipped = skippedPublishes(bus, log)
    /** Says a trouble with the files in the log and on the bus, where the inspector shows it. */
    const trouble = (message: string): void => {
      log(message)
      bus
        .publish(errorReport(ModuleId.Storage, 'EventLog', message, { dataDir }))
        .catch((error: unknown) => skipped.skip('Error', error))
    }
    const settings = { ...options }
    const eventLog = await openEventLog({
      dir: dataDir,
      name: 'events.jsonl',
      maxFileBytes: settings.maxFileBytes,
      keepFiles: settings.keepFiles,
      warn: trouble,
    })
    const sessionId = crypto.randomUUID()
    let totalEvents = 0
    let lastBatchTime = new Date()
    let pending: RawEvent[] = []
    /** The lines waiting for the write under way to finish; they go out together after it. */
    let group: { lines: string[]; written: Promise<void> } | undefined
    /** The last write started, settled either way: the next group waits for it. */
    let lastWrite: Promise<unknown> = Promise.resolve()
    let dirty = false

    /**
     * Appends `line`; resolves once it is written. A group commit with no timer: a line starts a
     * write as soon as the one under way (if any) is done, and the lines that arrive meanwhile go
     * out with it, in one append. Waiting a few milliseconds for company instead capped Storage
     * at ~700 events/s: its subscription runs `workers` (4) handlers at once, each held by the wait.
     */
    function write(line: string): Promise<void> {
      if (group === undefined) {
        const lines: string[] = []
        const written = lastWrite.then(async () => {
          group = undefined
          await eventLog.append(lines.join(''))
          dirty = true
        })
        lastWrite = written.catch(() => {}) // a failed append fails its own handlers, not the next group's
        group = { lines, written }
      }
      group.lines.push(line)
      return group.written
    }

    /** Runs `step` after the writes under way: the log takes one call at a time. */
    function afterWrites(step: () => Promise<void>, failure: string): void {
      lastWrite = lastWrite
        .then(step)
        .catch((error: unknown) => trouble(`${failure}: ${describeThrown(error)}`))
    }

    // The flush waits its turn behind the writes, as a rotation closes the file it would flush.
    // One that fails is only reported: the events were acknowledged as written, not as flushed.
    const flush = () => {
      if (!dirty) return
      dirty = false
      afterWrites(() => eventLog.sync(), 'could not flush events.jsonl')
    }
    let fsyncTimer = setInterval(flush, settings.fsyncMs)
    const statusTimer = setInterval(() => {
      void bus
        .publish(
          BusMessage.create(
            ModuleId.Storage,
            MessagePayload.StorageStatus({
              totalEvents,
              storageSizeBytes: eventLog.sizeBytes,
              lastBatchTime,
            }),
          ),
        )
        .catch((error: unknown) => skipped.skip('StorageStatus', error))
    }, 1000)
    let windowStart = new Date()
    const publishBatch = () => {
      const windowEnd = new Date()
      const events = pending.slice(-MAX_BATCH_EVENTS)
      pending = []
      lastBatchTime = windowEnd
      void bus
        .publish(
          BusMessage.create(
            ModuleId.Storage,
            MessagePayload.EventBatch({ windowStart, windowEnd, events, sessionId }),
          ),
        )
        .catch((error: unknown) => skipped.skip('EventBatch', error))
      windowStart = windowEnd
    }
    let batchTimer = setInterval(publishBatch, settings.batchMs)

    await bus.subscribe(
      ModuleId.Storage,
      MessageFilter.types(['RawEvent']),
      DeliveryMode.Reliable({ timeoutMs: 5000 }),
      async (message) => {
        await write(
          `${JSON.stringify({ id: message.id, source: message.source, ...message.payload.data })}\n`,
        )
        totalEvents++
        pending.push(message.payload.data)
        if (pending.length > MAX_BATCH_EVENTS * 2) pending = pending.slice(-MAX_BATCH_EVENTS)
      },
      { label: 'writes RawEvents to the event log' },
    )

    return {
      // Every option can change while Storage runs: the timers restart at their new pace, and the
      // log takes its new limits after the writes under way.
      configure(key, value) {
        if (key === 'batchMs') {
          settings.batchMs = settingValue(moduleOptionSchemas.storage, key, value)
          clearInterval(batchTimer)
          batchTimer = setInterval(publishBatch, settings.batchMs)
        } else if (key === 'fsyncMs') {
          settings.fsyncMs = settingValue(moduleOptionSchemas.storage, key, value)
          clearInterval(fsyncTimer)
          fsyncTimer = setInterval(flush, settings.fsyncMs)
        } else if (key === 'maxFileBytes' || key === 'keepFiles') {
          settings[key] = settingValue(moduleOptionSchemas.storage, key, value)
          const limits = { maxFileBytes: settings.maxFileBytes, keepFiles: settings.keepFiles }
          afterWrites(() => eventLog.setLimits(limits), `could not apply ${key}`)
        } else return false
        return true
      },
      async stop() {
        clearInterval(fsyncTimer)
        clearInterval(statusTimer)
        clearInterval(batchTimer)
        await skipped.stop()
        await lastWrite
        await eventLog.close()
      },
    }
  },
})
