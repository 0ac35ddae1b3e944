import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native plugins are process-global (dlopen): keep each file in its own fork.
    pool: 'forks',
    globalSetup: ['test/setup/native-fixtures.ts', 'test/setup/go-fixture.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
