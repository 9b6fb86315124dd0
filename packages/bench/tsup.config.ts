import { defineConfig } from 'tsup';

// worker.ts is its own entry (run workers are forked from dist/worker.js); commands.ts is the CLI's light entry.
export default defineConfig({
  entry: ['src/index.ts', 'src/commands.ts', 'src/worker.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts', 'src/commands.ts'] },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
