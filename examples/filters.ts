/** The README's filter forms, type-checked. */
import { MessageFilter, MessagePriority, ModuleId, type PlainFilter } from '../src/main/bus/index.js'

MessageFilter.types(['RawEvent', 'StateChange']) // handler sees exactly these payloads
MessageFilter.sources([ModuleId.Storage]).withMinPriority(MessagePriority.High)
MessageFilter.all().withPredicate((msg) => msg.source !== 'inspector')
const plain: PlainFilter = { types: ['RawEvent'], minPriority: 2 } // the plain form crosses ports unchanged

export { plain }
