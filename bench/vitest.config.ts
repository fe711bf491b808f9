import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The suite's own helpers are tested apart from the module's tests: `npx vitest run --config bench/vitest.config.ts`.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
