// A machine whose directories are not what plughost needs: typed errors,
// never a raw ENOENT/EACCES from deep inside.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { createHost, silentLogger, type Host } from '../../src/index.js';
import { fixturePlugin, rejection } from '../dynamic/support.js';

const tools = path.resolve('dist/src/tools.js');
const hosts: Host[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});

it('refuses to start a plugin, typed, when TMPDIR cannot hold its private socket directory', async () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = path.join(os.tmpdir(), 'plughost-no-such-dir', 'deeper');
  try {
    const host = createHost({ buildId: 'dirs', manifest: false, logger: silentLogger });
    hosts.push(host);
    const err = await rejection(host.loadDynamic(fixturePlugin()));
    expect(err.code).toBe('PLUGHOST_SPAWN_FAILED');
    expect(err.message).toContain('private socket directory');
    expect(err.message).toContain('TMPDIR');
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

it.runIf(process.getuid?.() === 0)('says a plugin file is not readable by this user, not that it is a special file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-unreadable-'));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'private.node');
  fs.writeFileSync(file, 'x', { mode: 0o600 });
  try {
    const script = `const t = await import(${JSON.stringify(tools)}); try { t.inspectNative(${JSON.stringify(file)}); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 20_000 });
    const out = JSON.parse(r.stdout) as { code: string; message: string };
    expect(out.code).toBe('PLUGHOST_NOT_A_FILE');
    expect(out.message).toContain('not readable by this user');
    expect(out.message).toContain('permission denied');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
