// Builds the trust-go go-plugin fixture (test/fixtures/trust/go) for the trust
// tests, offline from Debian's packages like test/setup/go-fixture.ts builds
// go-kv, into dist/ (never committed). Rebuilt only when a source changed.
// Returns null on a machine without Go (never in CI: the tests then skip).
import path from 'node:path';

import { buildGoPlugin, hasGo } from '../support/go-build.js';

export const trustGoDir = path.resolve(import.meta.dirname, '../fixtures/trust/go');
export const trustProto = path.join(trustGoDir, 'trust.proto');

export function buildTrustGo(): string | null {
  if (!hasGo()) return null;
  const out = path.resolve(import.meta.dirname, '../../dist/fixtures/trust-go');
  const binary = path.join(out, 'trust-go');
  buildGoPlugin(trustGoDir, binary, out);
  return binary;
}
