import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The console: Preact (3 KB runtime, JSX without React) bundled by Vite into hashed files under
// /console/assets. assetsInlineLimit 0 and no module-preload polyfill: nothing is inlined, so the
// strict CSP (script-src 'self', no inline style) holds. esbuild compiles the TSX (no Babel).
export default defineConfig({
  root: __dirname,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: resolve(__dirname, '../../dist/console'),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    target: 'es2022',
    reportCompressedSize: true,
  },
});
