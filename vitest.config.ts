import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'runs/**', 'flows/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: real-time and serial tests interfere when too many files run at once.
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['**/*.test-d.ts'] },
  },
});
