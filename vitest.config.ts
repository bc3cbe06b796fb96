import { defineConfig } from 'vitest/config';

// Tests import workspace packages through their "development" export condition, so they run
// against TypeScript sources and never against a stale dist/.
export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'], externalConditions: ['development'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Under CI also write a JSON summary, from which .ci/run prints one plain 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
