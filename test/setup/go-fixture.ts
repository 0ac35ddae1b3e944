// Builds the Go go-plugin fixture (test/fixtures/dynamic/go-kv) once before
// the tests, offline from Debian's packages, when Go is installed. CI must
// have Go (README prerequisites); a developer machine without it gets null
// and the Go tests skip.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built go-kv plugin binary, or null when this machine has no Go. */
    goKvPlugin: string | null;
  }
}

const goDir = path.resolve(import.meta.dirname, '../fixtures/dynamic/go-kv');
const binary = path.join(goDir, 'build/go-kv');

function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Rebuilds only when a source changed (a warm build takes ~0.1 s, a cold one ~10 s). */
function build(): void {
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(goDir).filter((f) => /\.(go|sh)$/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(goDir, f)));
  const stamp = path.join(goDir, 'build/.sources-sha256');
  const want = hash.digest('hex');
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('sh', [path.join(goDir, 'build.sh'), binary], {
    env: { ...process.env, GOCACHE: path.join(goDir, 'build/gocache') },
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 170_000,
  });
  fs.writeFileSync(stamp, want);
}

export default function setup(project: TestProject): void {
  if (!hasGo()) {
    if (process.env.CI) throw new Error('Go is required in CI: apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev');
    project.provide('goKvPlugin', null);
    return;
  }
  build();
  project.provide('goKvPlugin', binary);
}
