import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs: the built dist/ works from any path, e.g.
  // /examples/svelte/dist/ under `make demo`'s server.
  base: './',
  // The options code shared with the other framework example
  // (../shared/room-options.js) is outside this app: let the dev server
  // serve it too.
  server: { fs: { allow: ['.', '../shared'] } },
});
