import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'

// The Electron host's entry lives in src/main/electron/, the only main-side folder importing
// 'electron'; the rest of src/main is runtime-neutral and shared with the headless host.
export default defineConfig({
  main: {
    build: { rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/main/electron/main.ts') } } },
  },
  preload: {
    build: {
      // Sandboxed preloads cannot be ES modules and can require only 'electron': one CommonJS bundle.
      externalizeDeps: { exclude: ['superjson', 'zod'] },
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    build: { rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/renderer/index.html') } } },
  },
})
