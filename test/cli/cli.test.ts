// The real built CLI (dist/), run as a user would: exit codes, text and JSON.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const fx = inject('nativeFixtures');
const built = (name: string): string => path.join(fx.built, `${name}.node`);
const cli = path.resolve('dist/src/cli/main.js');

let tmp: string;
let marker: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-cli-'));
  marker = path.join(tmp, 'marker.log');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PLUGHOST_TEST_MARKER: marker },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('plughost inspect', () => {
  it('prints descriptor, GNU build-id, arch, Node-API and SHA-256 as JSON without loading', () => {
    const r = run('inspect', built('good'), '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      ok: true,
      format: 'elf',
      bits: 64,
      arch: process.arch,
      kind: 'shared',
      descriptor: { name: 'fixture-good', version: '1.2.3', buildId: fx.buildId, napiVersion: 8 },
      problem: null,
    });
    expect(out.sha256).toBe(execFileSync('sha256sum', [built('good')], { encoding: 'utf8' }).split(' ')[0]);
    expect(execFileSync('readelf', ['-n', built('good')], { encoding: 'utf8' })).toContain(`Build ID: ${out.gnuBuildId}`);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('prints a readable table', () => {
    const r = run('inspect', built('good'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/plugin\s+fixture-good 1\.2\.3/);
    expect(r.stdout).toMatch(/build id\s+fixture-build/);
    expect(r.stdout).toMatch(/node-api\s+8 \(this Node supports up to \d+\)/);
    expect(r.stdout).toMatch(/inspected without loading in/);
  });

  it('exits 1 for a file without a descriptor, naming the code', () => {
    const r = run('inspect', built('no_descriptor'), '--json');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, descriptor: null, problem: { code: 'PLUGHOST_NO_DESCRIPTOR' } });
  });

  it('exits 1 for a file that is not a binary', () => {
    const r = run('inspect', path.join(fx.corpus, 'not-elf.node'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PLUGHOST_BAD_FORMAT');
  });
});

describe('plughost verify', () => {
  it('passes a good plugin without loading it', () => {
    const r = run('verify', built('good'), '--build-id', fx.buildId);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: fixture-good 1\.2\.3 passes every pre-load check for build fixture-build/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses another build with exit 1, the code and both build IDs', () => {
    const r = run('verify', built('wrong_build_id'), '--build-id', fx.buildId);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PLUGHOST_BUILD_ID_MISMATCH');
    expect(r.stderr).toContain('"fixture-build" (host)');
    expect(r.stderr).toContain('"some-other-build" (plugin)');
  });

  it('reports refusals as JSON', () => {
    const r = run('verify', built('napi_too_high'), '--build-id', fx.buildId, '--json');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'PLUGHOST_NAPI_TOO_NEW', found: '10' } });
  });

  it('checks a SHA-256 pin', () => {
    const sha = execFileSync('sha256sum', [built('good')], { encoding: 'utf8' }).split(' ')[0]!;
    expect(run('verify', built('good'), '--build-id', fx.buildId, '--sha256', sha).status).toBe(0);
    const bad = run('verify', built('good'), '--build-id', fx.buildId, '--sha256', 'ab'.repeat(32));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('PLUGHOST_CHECKSUM_MISMATCH');
  });

  it('exits 2 on a usage error', () => {
    expect(run('verify').status).toBe(2);
    expect(run('no-such-command').status).toBe(2);
  });
});
