import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // creates the test databases and users on the shared servers (see the file)
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Database-backed suites share two servers; files run in parallel but each
    // uses its own database/schema names (see test/support/databases.ts).
    fileParallelism: true,
    maxWorkers: 2,
    allowOnly: !process.env.CI,
  },
});
