/** A benchmark process's side of its talk with the benchmark (see BenchProcess in harness.ts). */

/** Sends `report` to the benchmark over IPC; `then` runs once it has left (exit only after that). */
export function tellParent<Report extends object>(report: Report, then: () => void = () => {}): void {
  if (process.send === undefined)
    throw new Error(`${process.argv[1]} runs under the benchmark, which talks to it over IPC`)
  process.send(report, then)
}
