// The private copies the loader maps: a named copy (macOS, and Linux where
// O_TMPFILE is not supported) is private while it exists and gone once
// mapped; what a killed host left is swept by the next.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, expect, it } from 'vitest';

import { privateNamedCopy, sweepStaleCopies } from '../../src/platform/sealed-copy.darwin.js';
import { anonymousCopy } from '../../src/platform/sealed-copy.linux.js';
import { copyDirs, privateCopiesSafeIn } from '../../src/platform/sealed-copy.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-sealed-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('makes a named copy only this user can reach, with exactly the bytes, and removes it', () => {
  const bytes = Buffer.from('verified bytes');
  const copy = privateNamedCopy(tmp, bytes, 'p.node')!;
  expect(fs.readFileSync(copy.path)).toEqual(bytes);
  expect(fs.statSync(path.dirname(copy.path)).mode & 0o777).toBe(0o700);
  expect(fs.statSync(copy.path).mode & 0o777).toBe(0o500);
  copy.remove();
  expect(fs.existsSync(path.dirname(copy.path))).toBe(false);
});

it.runIf(process.platform === 'linux')('makes an anonymous copy on Linux: no name in the directory, the bytes through /proc/self/fd', () => {
  const bytes = Buffer.from('verified bytes');
  const copy = anonymousCopy(tmp, bytes)!;
  expect(copy).toBeDefined();
  expect(fs.readdirSync(tmp)).toEqual([]);
  expect(fs.readFileSync(copy.path)).toEqual(bytes);
  fs.closeSync(copy.fd);
});

it('sweeps copies of hosts that are gone, and only those', async () => {
  const gone = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => gone.on('exit', resolve));
  const stale = path.join(tmp, `plughost-load-${gone.pid}-abc`);
  const live = path.join(tmp, `plughost-load-${process.ppid}-abc`);
  const other = path.join(tmp, 'plughost-load-notapid');
  for (const d of [stale, live, other]) fs.mkdirSync(d, { mode: 0o700 });
  sweepStaleCopies(tmp);
  expect([stale, live, other].map((d) => fs.existsSync(d))).toEqual([false, true, true]);
});

it('puts copies in $PLUGHOST_LOAD_DIR first, then beside the plugin, then in the temporary directory', () => {
  const load = fs.mkdtempSync(path.join(tmp, 'load-'));
  const app = fs.mkdtempSync(path.join(tmp, 'app-'));
  expect(copyDirs(path.join(app, 'p.node'), { PLUGHOST_LOAD_DIR: load })).toEqual([load, app, path.resolve(os.tmpdir())]);
  expect(copyDirs(path.join(os.tmpdir(), 'p.node'), {})).toEqual([path.resolve(os.tmpdir())]);
});

it('never puts a copy where another user could rename it away: not in a directory others may write, unless it is sticky', () => {
  const open = fs.mkdtempSync(path.join(tmp, 'open-'));
  fs.chmodSync(open, 0o777);
  const sticky = fs.mkdtempSync(path.join(tmp, 'sticky-'));
  fs.chmodSync(sticky, 0o1777);
  const groupWritable = fs.mkdtempSync(path.join(tmp, 'group-'));
  fs.chmodSync(groupWritable, 0o770);
  const own = fs.mkdtempSync(path.join(tmp, 'own-'));
  fs.chmodSync(own, 0o755);
  expect([open, sticky, groupWritable, own].map(privateCopiesSafeIn)).toEqual([false, true, false, true]);
  expect(privateCopiesSafeIn(path.join(tmp, 'missing'))).toBe(false);
  // A deploy directory anyone may write is skipped, for native and executable copies alike.
  expect(copyDirs(path.join(open, 'p.node'), { PLUGHOST_LOAD_DIR: own })).toEqual([own, path.resolve(os.tmpdir())]);
});
