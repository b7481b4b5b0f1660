import { resolve } from 'node:path'
import { defineConfig } from 'vite'

// The browser bridge for pages served by the headless host: one classic script (IIFE), loaded
// before the page's own scripts so `window.skellyBus` exists when they run.
export default defineConfig({
  build: {
    outDir: resolve(import.meta.dirname, 'out/bridge'),
    emptyOutDir: true,
    lib: {
      entry: resolve(import.meta.dirname, 'src/preload/browser-bridge.ts'),
      formats: ['iife'],
      name: 'SkellyBridge',
      fileName: () => 'skelly-bridge.js',
    },
  },
})
