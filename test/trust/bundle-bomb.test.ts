// A tar bomb: a 2 MB bundle that inflates to 2 GiB. verify must refuse it
// with bounded memory, streaming, and without inflating the whole of it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const tools = path.resolve('dist/src/tools.js');
const cli = path.resolve('dist/src/cli/main.js');
let tmp: string;

/** One ustar header: `name`, a regular file of `size` bytes. */
function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** A gzip'd tar of `entries`, each all zeros, written as it is made. */
async function bomb(file: string, entries: ReadonlyArray<{ name: string; size: number }>): Promise<void> {
  const zeros = Buffer.alloc(1024 * 1024);
  async function* tar(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      yield header(e.name, e.size);
      for (let left = e.size; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
      if (e.size % 512 !== 0) yield Buffer.alloc(512 - (e.size % 512));
    }
    yield Buffer.alloc(1024);
  }
  await pipeline(Readable.from(tar()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
}

/** verifyDeploy in a fresh process; its code and its peak RSS. */
function verifyInChild(bundle: string): { code: string | undefined; maxRssMiB: number; stdout: string } {
  const script = `
    const { verifyDeploy } = await import(${JSON.stringify(tools)});
    let code;
    try { (await verifyDeploy(${JSON.stringify(bundle)})).cleanup(); } catch (err) { code = err.code; }
    console.log(JSON.stringify({ code, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return { ...JSON.parse(r.stdout), stdout: r.stdout };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bomb-'));
  await bomb(path.join(tmp, 'one-big.tar.gz'), [{ name: 'manifest.json', size: 2 * 1024 ** 3 }]);
  // Each entry within the per-file limit; together 2 GiB.
  await bomb(path.join(tmp, 'many.tar.gz'), Array.from({ length: 2048 }, (_, i) => ({ name: `f${i}.bin`, size: 1024 * 1024 })));
}, 180_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a tar bomb', () => {
  it('is a few MB on disk', () => {
    expect(fs.statSync(path.join(tmp, 'one-big.tar.gz')).size).toBeLessThan(4 * 1024 * 1024);
    expect(fs.statSync(path.join(tmp, 'many.tar.gz')).size).toBeLessThan(4 * 1024 * 1024);
  });

  it('with one 2 GiB entry is refused under 256 MiB RSS', () => {
    const r = verifyInChild(path.join(tmp, 'one-big.tar.gz'));
    expect(r.code).toBe('PLUGHOST_BUNDLE_UNSAFE');
    expect(r.maxRssMiB).toBeLessThan(256);
  });

  it('of many small entries is refused under 256 MiB RSS, and the CLI says so on one line', () => {
    const r = verifyInChild(path.join(tmp, 'many.tar.gz'));
    // No entry is too large: the inflation ratio gives it away, before the rest is inflated.
    expect(r.code).toBe('PLUGHOST_BUNDLE_UNSAFE');
    expect(r.maxRssMiB).toBeLessThan(256);
    const cliRun = spawnSync(process.execPath, [cli, 'verify', path.join(tmp, 'many.tar.gz')], { encoding: 'utf8', timeout: 120_000 });
    expect(cliRun.status).toBe(1);
    expect(cliRun.stderr).toContain('PLUGHOST_BUNDLE_UNSAFE');
    expect(cliRun.stderr).not.toMatch(/\n\s+at /);
  });
});
