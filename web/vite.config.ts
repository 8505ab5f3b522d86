import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by the API from web/dist; in development Vite proxies the API to it.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // which chunks the entry loads at once (bench/web.bench.ts counts them as initial JavaScript)
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': process.env['SWIPESAVVY_API'] ?? 'http://127.0.0.1:8080',
    },
  },
});
