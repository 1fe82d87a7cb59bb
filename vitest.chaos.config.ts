import { defineConfig } from 'vitest/config';

// `npm run test:chaos`: the full-size chaos runs, one at a time (each starts its own runtime and
// keeps both cores busy). Sizes: CHAOS_N (default 1000), CHAOS_RESTART_N (default 300).
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    include: ['test/chaos/**/*.chaos.ts'],
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
