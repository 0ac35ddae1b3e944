import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native plugins are process-global (dlopen): keep each file in its own fork.
    pool: 'forks',
    // In order: dist/ first (subprocess tests run it), then the fixtures.
    globalSetup: ['test/setup/build-typescript.ts', 'test/setup/native-fixtures.ts', 'test/setup/go-fixture.ts'],
    // Fails a dynamic fault test that lets an error escape to the process (test/setup/trap-uncaught.ts).
    setupFiles: ['test/setup/trap-uncaught.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
