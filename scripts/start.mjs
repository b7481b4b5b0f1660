// `npm start`: builds if the sources changed since the last build, then opens the Electron app;
// where Electron's binary is missing, says so in one line and starts the headless host instead.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const built = join(root, 'out/main/headless.js')

function newestIn(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs)
  }
  return newest
}

if (!existsSync(built) || newestIn(join(root, 'src')) > statSync(built).mtimeMs) {
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron')
    return typeof path === 'string' && existsSync(path) ? path : undefined
  } catch {
    return undefined
  }
}

const electron = electronBinary()
if (!electron) console.log('Electron’s binary is not installed here: starting the headless host instead.')
const child = electron
  ? spawn(electron, [root], { stdio: 'inherit' })
  : spawn(process.execPath, [built], { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
// npm passes no signal on, and the shell it runs this in dies of one without passing it on: left
// behind by its parent, this stops the host as a SIGTERM would, rather than leave it running with
// the port and the data folder taken.
const parent = process.ppid
const orphaned = setInterval(() => {
  if (process.ppid === parent) return
  clearInterval(orphaned)
  child.kill('SIGTERM')
}, 500).unref()
// No code: the child was ended by a signal it did not handle (a crash, a kill), not a clean stop.
child.on('exit', (code, signal) => {
  if (signal !== null) console.error(`The host was ended by ${signal}.`)
  process.exit(code ?? 1)
})
