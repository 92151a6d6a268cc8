import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers and spawn the real CLI; 2-core CI machines are slow.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every test file owns its servers on ephemeral ports; files may run in parallel.
    pool: 'forks',
  },
});
