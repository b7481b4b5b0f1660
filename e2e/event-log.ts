/** Reading Storage's event log from a spec, whichever host wrote it. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The ids of every event Storage wrote into `dataDir`'s event log, rotated files included. A line
 * a killed Storage cut off is left as it is (docs/reliability.md) and read as no event.
 */
export async function storedEventIds(dataDir: string): Promise<Set<string>> {
  const ids = new Set<string>()
  for (const file of await readdir(dataDir)) {
    if (!/^events(\.\d+)?\.jsonl$/.test(file)) continue
    for (const line of (await readFile(join(dataDir, file), 'utf8')).split('\n')) {
      try {
        ids.add((JSON.parse(line) as { id: string }).id)
      } catch {
        // An empty line, or one cut off.
      }
    }
  }
  return ids
}
