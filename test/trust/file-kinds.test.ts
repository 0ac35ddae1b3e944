// Files that are not what a plugin file must be: refused by type or size,
// without blocking, with the same code from the API and from the CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHost, type PlughostError } from '../../src/index.js';
import { inspectNative, verifyDeploy, verifyPluginFile } from '../../src/tools.js';

const cli = path.resolve('dist/src/cli/main.js');
let tmp: string;
let server: net.Server;

const cases: Array<{ what: string; file: () => string; code: string }> = [
  { what: 'a FIFO with no writer', file: () => path.join(tmp, 'fifo.node'), code: 'PLUGHOST_NOT_A_FILE' },
  { what: 'a unix socket', file: () => path.join(tmp, 'socket.node'), code: 'PLUGHOST_NOT_A_FILE' },
  { what: 'a character device', file: () => '/dev/null', code: 'PLUGHOST_NOT_A_FILE' },
  { what: 'a directory', file: () => tmp, code: 'PLUGHOST_NOT_A_FILE' },
  { what: 'a sparse file of 2 GiB', file: () => path.join(tmp, 'huge.node'), code: 'PLUGHOST_FILE_TOO_LARGE' },
  { what: 'a sparse file of 4 GiB + 1', file: () => path.join(tmp, 'huger.node'), code: 'PLUGHOST_FILE_TOO_LARGE' },
];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-kinds-'));
  execFileSync('mkfifo', [path.join(tmp, 'fifo.node')]);
  execFileSync('mkfifo', [path.join(tmp, 'fifo.tar.gz')]);
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(tmp, 'socket.node'), resolve));
  // Sparse: the size is real to stat and to a reader, the disk holds nothing.
  fs.closeSync(fs.openSync(path.join(tmp, 'huge.node'), 'w'));
  fs.truncateSync(path.join(tmp, 'huge.node'), 2 * 1024 ** 3);
  fs.closeSync(fs.openSync(path.join(tmp, 'huger.node'), 'w'));
  fs.truncateSync(path.join(tmp, 'huger.node'), 4 * 1024 ** 3 + 1);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as PlughostError).code;
  }
  return undefined;
}

describe('a path that is not a plugin file', () => {
  for (const c of cases) {
    it(`is refused as ${c.code}, not read, for ${c.what}`, () => {
      const host = createHost({ buildId: 'any', manifest: false });
      // A FIFO would block each of these forever if it were opened for a blocking read.
      expect(codeOf(() => host.loadNative(c.file()))).toBe(c.code);
      expect(codeOf(() => inspectNative(c.file()))).toBe(c.code);
      expect(codeOf(() => verifyPluginFile(c.file(), { buildId: 'any' }))).toBe(c.code);
      expect(host.stats().loads.refused).toBe(1);
    });

    it(`gives the CLI the same ${c.code} on one line for ${c.what}`, () => {
      for (const command of [['inspect', c.file()], ['verify', c.file(), '--build-id', 'any']]) {
        // A directory is a deploy to `verify`; its own refusal is tested in the bundle tests.
        if (c.file() === tmp && command[0] === 'verify') continue;
        const r = spawnSync(process.execPath, [cli, ...command], { encoding: 'utf8', timeout: 20_000 });
        expect(r.signal).toBeNull();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(c.code);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    });
  }

  it('refuses a FIFO named like a bundle without blocking verify', async () => {
    await expect(verifyDeploy(path.join(tmp, 'fifo.tar.gz'))).rejects.toMatchObject({ code: 'PLUGHOST_NOT_A_FILE' });
    const r = spawnSync(process.execPath, [cli, 'verify', path.join(tmp, 'fifo.tar.gz')], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PLUGHOST_NOT_A_FILE');
  });
});
