import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs: the built dist/ works from any path, e.g.
  // /examples/svelte/dist/ under `make demo`'s server.
  base: './',
  // peerset finds peerset.wasm next to its own module
  // (new URL('./peerset.wasm', import.meta.url)). The dev server's dependency
  // pre-bundling would move the module into .vite/deps/ without the wasm, so
  // leave peerset out of it. `vite build` needs nothing: it copies the wasm
  // as an asset and rewrites the URL.
  optimizeDeps: { exclude: ['peerset'] },
});
