// Builds the Go go-plugin fixture (test/fixtures/dynamic/go-kv) once before
// the tests, offline from Debian's packages, when Go is installed. CI must
// have Go (README prerequisites); a developer machine without it gets null
// and the Go tests skip.
import path from 'node:path';
import type { TestProject } from 'vitest/node';

import { buildGoPlugin, hasGo } from '../support/go-build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built go-kv plugin binary, or null when this machine has no Go. */
    goKvPlugin: string | null;
  }
}

const goDir = path.resolve(import.meta.dirname, '../fixtures/dynamic/go-kv');
const binary = path.join(goDir, 'build/go-kv');

export default function setup(project: TestProject): void {
  if (!hasGo()) {
    project.provide('goKvPlugin', null);
    return;
  }
  buildGoPlugin(goDir, binary, path.join(goDir, 'build'));
  project.provide('goKvPlugin', binary);
}
