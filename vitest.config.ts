import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One PostgreSQL server for the run (DATABASE_URL, else embedded); each test file makes its own databases on it.
    globalSetup: ['stack/src/testing/global-setup.ts'],
    hookTimeout: 60_000,
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'api',
          include: [
            '*/test/**/*.test.ts',
            '*/src/**/*.test.ts',
            'extracted/*/test/**/*.test.ts',
            'contract-tests/contracts/**/*.test.ts',
            'contract-tests/drills/**/*.test.ts',
            'contract-tests/data/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        // Browser journeys: one Chromium per file, files one at a time on a 2-core machine.
        test: { name: 'e2e', include: ['contract-tests/journeys/**/*.test.ts'], testTimeout: 60_000, fileParallelism: false },
      },
    ],
  },
});
