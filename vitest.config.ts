import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native plugins are process-global (dlopen): keep each file in its own fork.
    pool: 'forks',
    // In order: dist/ first (subprocess tests run it), then the fixtures.
    globalSetup: ['test/setup/build-typescript.ts', 'test/setup/native-fixtures.ts', 'test/setup/go-fixture.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
