import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'

const here = import.meta.dirname
const at = (path: string) => resolve(here, path)

// The Electron host's entry lives in src/main/electron/, the only main-side folder importing
// 'electron'; the rest of src/main is runtime-neutral or Node-only and shared with the headless
// host, which is built here too (plain Node runs out/main/headless.js).
export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: at('src/main/electron/main.ts'),
          headless: at('src/main/node/cli.ts'),
          'module-worker': at('src/modules/runners/worker.ts'),
          'module-utility': at('src/modules/runners/utility.ts'),
        },
        // Shared chunks sit beside the entries, so every file's import.meta.dirname is out/main.
        output: { chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      // Sandboxed preloads cannot be ES modules and can require only 'electron': one CommonJS bundle.
      externalizeDeps: { exclude: ['superjson', 'zod'] },
      rollupOptions: {
        input: { index: at('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: at('src/renderer'),
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      rollupOptions: {
        input: { index: at('src/renderer/index.html'), inspector: at('src/renderer/inspector.html') },
      },
    },
  },
})
