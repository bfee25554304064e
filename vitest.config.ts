import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: [
      'node_modules/**',
      'runs/**',
      'flows/node_modules/**',
      'market/ledger/backends/node_modules/**',
    ],
    // Base budgets for a quiet machine; test/support/scaled-timeouts.ts scales them per file to the
    // machine's present speed (up to 5×).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['test/support/scaled-timeouts.ts'],
    // Two cores: real-time and serial tests interfere when too many files run at once.
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['**/*.test-d.ts'] },
  },
});
