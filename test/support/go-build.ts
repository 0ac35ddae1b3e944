// Building a go-plugin test fixture offline from Debian's Go packages
// (test/fixtures/go-plugin-build.sh), only when one of its sources changed
// (a warm build takes ~0.1 s, a cold one ~10 s).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const script = path.resolve(import.meta.dirname, '../fixtures/go-plugin-build.sh');

/** Whether this machine has Go; in CI it must (README prerequisites). */
export function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error('Go is required in CI: apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev');
    return false;
  }
}

/** Builds `srcDir` into `binary`; the stamp and the Go cache live in `workDir`. */
export function buildGoPlugin(srcDir: string, binary: string, workDir: string): void {
  const hash = createHash('sha256').update(fs.readFileSync(script));
  for (const f of fs.readdirSync(srcDir).filter((f) => /\.(go|proto)$/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(srcDir, f)));
  const stamp = path.join(workDir, '.sources-sha256');
  const want = hash.digest('hex');
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  execFileSync('sh', [script, srcDir, binary], {
    env: { ...process.env, GOCACHE: path.join(workDir, 'gocache') },
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 170_000,
  });
  fs.writeFileSync(stamp, want);
}
