// Builds the Go go-plugin fixtures once before the tests, offline from
// Debian's packages, when Go is installed: test/fixtures/dynamic/go-kv, and
// hashicorp/go-plugin's examples/bidirectional plugin
// (test/fixtures/dynamic/go-bidir, into dist/fixtures/go-bidir). CI must have
// Go (README prerequisites); a developer machine without it gets null and the
// Go tests skip.
import path from 'node:path';
import type { TestProject } from 'vitest/node';

import { buildGoPlugin, buildGoPluginTree, goBidirDir, hasGo } from '../support/go-build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built go-kv plugin binary, or null when this machine has no Go. */
    goKvPlugin: string | null;
    /**
     * The built go-plugin examples/bidirectional plugin (cookie BASIC_PLUGIN=hello,
     * protocol test/support/go-build.ts goBidirProto), or null when this machine has no Go.
     */
    goBidirPlugin: string | null;
  }
}

const goDir = path.resolve(import.meta.dirname, '../fixtures/dynamic/go-kv');
const binary = path.join(goDir, 'build/go-kv');
const bidirOut = path.resolve(import.meta.dirname, '../../dist/fixtures/go-bidir');
const bidirBinary = path.join(bidirOut, 'go-bidir');

export default function setup(project: TestProject): void {
  if (!hasGo()) {
    project.provide('goKvPlugin', null);
    project.provide('goBidirPlugin', null);
    return;
  }
  const goKvWork = path.join(goDir, 'build');
  buildGoPlugin(goDir, binary, goKvWork);
  project.provide('goKvPlugin', binary);
  // Sharing go-kv's Go cache: a cold build then compiles only the example.
  buildGoPluginTree(goBidirDir, 'plugin-go-grpc', 'github.com/hashicorp/go-plugin/examples/bidirectional', bidirBinary, bidirOut, path.join(goKvWork, 'gocache'));
  project.provide('goBidirPlugin', bidirBinary);
}
