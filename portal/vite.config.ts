import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Served by Iris: the page at "/" (for browsers) and everything else under /portal/, which no API route can reach.
export default defineConfig({
  base: '/portal/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
});
