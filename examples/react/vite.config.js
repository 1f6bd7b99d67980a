import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the built dist/ works from any path, e.g.
  // /examples/react/dist/ under `make demo`'s server.
  base: './',
});
