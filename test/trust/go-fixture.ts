// Builds the trust-go go-plugin fixture (test/fixtures/trust/go) for the trust
// tests, offline from Debian's packages like test/setup/go-fixture.ts builds
// go-kv, into dist/ (never committed). Rebuilt only when a source changed.
// Returns null on a machine without Go (never in CI: the tests then skip).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const trustGoDir = path.resolve(import.meta.dirname, '../fixtures/trust/go');
export const trustProto = path.join(trustGoDir, 'trust.proto');

export function buildTrustGo(): string | null {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    if (process.env.CI) throw new Error('Go is required in CI (README prerequisites)');
    return null;
  }
  const out = path.resolve(import.meta.dirname, '../../dist/fixtures/trust-go');
  const binary = path.join(out, 'trust-go');
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(trustGoDir).filter((f) => /\.(go|sh)$/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(trustGoDir, f)));
  const want = hash.digest('hex');
  const stamp = path.join(out, '.sources-sha256');
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return binary;
  fs.mkdirSync(out, { recursive: true });
  execFileSync('sh', [path.join(trustGoDir, 'build.sh'), binary], {
    env: { ...process.env, GOCACHE: path.join(out, 'gocache') },
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 170_000,
  });
  fs.writeFileSync(stamp, want);
  return binary;
}
