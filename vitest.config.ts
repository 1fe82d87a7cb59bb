import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable report next to the console output.
const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    // Two cores: integration tests start real servers, so keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    ...(jsonReport && { outputFile: { json: jsonReport } }),
  },
});
