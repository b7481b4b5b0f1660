/** The benchmark payload: a RawEvent keystroke, about 250 bytes as JSON. */
import { BusMessage, MessagePayload, ModuleId } from '../src/main/bus/index.js'

export function keystroke(n: number, sentAt = 0) {
  return {
    eventType: 'keystroke',
    data: { key: 'a', code: 65, modifiers: ['shift'], n, sentAt },
    windowTitle: 'main.ts — Skelly-Jelly — Visual Studio Code',
    timestamp: new Date(),
  }
}

export function keystrokeMessage(n: number, sentAt = 0, source: string = ModuleId.DataCapture) {
  return BusMessage.create(source, MessagePayload.RawEvent(keystroke(n, sentAt)))
}

/** The identity of an outside process that asks the app's modules and waits for their answer. */
export const OUTSIDE_MODULE = 'native-tracker'

/** Wall-clock milliseconds comparable across threads of one process (µs resolution). */
export function now(): number {
  return performance.timeOrigin + performance.now()
}
