import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Real processes and real fsyncs: give slow CI machines room, but every
    // test waits for states, never for wall-clock guesses.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
