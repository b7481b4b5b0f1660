/** The app window's entry. It shows which runtime hosts it until the figurine is wired to the bus. */
interface SkellyRuntime {
  kind: string
  versions: Record<string, string | undefined>
}

const runtime = (window as Window & { skellyRuntime?: SkellyRuntime }).skellyRuntime
const app = document.getElementById('app')
if (app) {
  const heading = document.createElement('h1')
  heading.textContent = 'Skelly-Jelly'
  const detail = document.createElement('p')
  detail.textContent = runtime
    ? `Running in ${runtime.kind} (${Object.entries(runtime.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`
    : 'Running without a preload bridge'
  app.append(heading, detail)
}
