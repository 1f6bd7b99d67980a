import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the built dist/ works from any path, e.g.
  // /examples/react/dist/ under `make demo`'s server.
  base: './',
  // The options code shared with the other framework example
  // (../shared/room-options.js) is outside this app: let the dev server
  // serve it too.
  server: { fs: { allow: ['.', '../shared'] } },
});
