// Nothing of a plugin outlives it: the processes it starts (a child, a
// double-forked daemon, a `setsid` daemon) die with it when it crashes, when
// the host closes, and when the host itself is SIGKILLed; and its private
// socket directory goes too. plughost-exec is a child subreaper on Linux
// (native/exec/plughost-exec.c), so only Linux promises the daemons.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type Host } from '../../src/index.js';
import { findExecHelper } from '../../src/dynamic/exec-helper.js';
import { waitFor } from '../support/wait-for.js';

const root = path.resolve(import.meta.dirname, '../..');
const spawner = path.join(root, 'test/fixtures/trust/spawner.mjs');
const linux = process.platform === 'linux';

interface Pids {
  plugin: number;
  grandchild: number;
  daemon: number;
  setsidDaemon: number;
}

/** Alive, not a zombie, and still the `sleep` (or node) we started: a recycled pid does not count. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}
const leftovers = (pids: Pids): string[] => Object.entries(pids).filter(([, pid]) => running(pid)).map(([what, pid]) => `${what} ${pid}`);
const readPids = (file: string): Pids => JSON.parse(fs.readFileSync(file, 'utf8')) as Pids;

let tmp: string;
let hosts: Host[] = [];
let children: ChildProcess[] = [];
const everyPid: number[] = [];
const savedTmp = process.env.TMPDIR;

beforeAll(() => {
  if (findExecHelper() === null) throw new Error('plughost-exec is not built: run `npm run build`');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-procs-'));
});
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children = [];
});
afterAll(() => {
  // A failed test must not leave its sleepers behind.
  for (const pid of everyPid) if (running(pid)) process.kill(pid, 'SIGKILL');
  process.env.TMPDIR = savedTmp;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh directory for one test: the pids file and, as TMPDIR, the socket directories. */
function scratch(name: string): { dir: string; pidsFile: string; sockets: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'sockets'), { recursive: true });
  return { dir, pidsFile: path.join(dir, 'pids.json'), sockets: path.join(dir, 'sockets') };
}
const options = (pidsFile: string) => ({
  name: 'spawner',
  command: [process.execPath, spawner],
  env: { FIXTURE_PIDS_FILE: pidsFile },
  restart: { maxRestarts: 0 },
});
async function started(pidsFile: string): Promise<Pids> {
  const pids = readPids(pidsFile);
  everyPid.push(...Object.values(pids));
  await waitFor(() => leftovers(pids).length === 4, { what: 'the plugin and its three descendants to run' });
  return pids;
}

describe.skipIf(!linux)('no descendant of a plugin outlives it', () => {
  it('when the plugin crashes', async () => {
    const { pidsFile } = scratch('crash');
    const host = createHost({ buildId: 'procs', logger: silentLogger });
    hosts.push(host);
    const plugin = await host.loadDynamic(options(pidsFile));
    const pids = await started(pidsFile);
    expect(plugin.pids()).toEqual([pids.plugin]);
    await expect(plugin.call('crash', new Uint8Array(0))).rejects.toMatchObject({ code: 'PLUGHOST_PLUGIN_CRASHED' });
    await waitFor(() => leftovers(pids).length === 0, { timeoutMs: 3000, what: `no leftovers (left: ${leftovers(pids).join(', ')})` });
  });

  it('when plughost-exec itself is SIGKILLed: the plugin and its process group (a setsid daemon has left it)', async () => {
    const { pidsFile } = scratch('helper-killed');
    const host = createHost({ buildId: 'procs', logger: silentLogger });
    hosts.push(host);
    const plugin = await host.loadDynamic(options(pidsFile));
    const pids = await started(pidsFile);
    const stat = fs.readFileSync(`/proc/${pids.plugin}/stat`, 'utf8');
    const helper = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    expect(helper).not.toBe(process.pid);
    process.kill(helper, 'SIGKILL');
    await waitFor(() => !running(pids.plugin) && !running(pids.grandchild), { timeoutMs: 3000, what: `the plugin and its child gone (left: ${leftovers(pids).join(', ')})` });
    expect(plugin.pids()).not.toContain(pids.plugin);
    // Not promised without the helper's sweep: daemons outside the group.
    for (const pid of [pids.daemon, pids.setsidDaemon]) if (running(pid)) process.kill(pid, 'SIGKILL');
  });

  it('when the host closes', async () => {
    const { pidsFile } = scratch('close');
    const host = createHost({ buildId: 'procs', logger: silentLogger });
    await host.loadDynamic(options(pidsFile));
    const pids = await started(pidsFile);
    await host.close();
    // close() resolves once the plugin is reaped; the helper kills what it left right after.
    await waitFor(() => leftovers(pids).length === 0, { timeoutMs: 3000, what: `no leftovers after close() (left: ${leftovers(pids).join(', ')})` });
  });

  it('when the host is killed with SIGKILL, and its socket directories go too', async () => {
    const { pidsFile, sockets } = scratch('sigkill');
    const script = `
      import { createHost, silentLogger } from ${JSON.stringify(path.join(root, 'dist/src/index.js'))};
      const host = createHost({ buildId: 'procs', logger: silentLogger });
      await host.loadDynamic(${JSON.stringify(options(pidsFile))});
      await host.loadDynamic({ ...${JSON.stringify(options(pidsFile + '.2'))}, name: 'second' });
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: sockets },
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the host exited (${code}) before loading its plugins`)));
    });
    const pids = [await started(pidsFile), await started(pidsFile + '.2')];
    expect(fs.readdirSync(sockets).filter((d) => d.startsWith('plughost-'))).toHaveLength(2);
    child.kill('SIGKILL');
    await waitFor(() => pids.every((p) => leftovers(p).length === 0), {
      timeoutMs: 3000,
      what: `no leftovers after the host's SIGKILL (left: ${pids.flatMap(leftovers).join(', ')})`,
    });
    await waitFor(() => fs.readdirSync(sockets).length === 0, { timeoutMs: 3000, what: `no socket directory (left: ${fs.readdirSync(sockets).join(', ')})` });
  });

  it('the host still sees how the plugin exited, and plugin.pids() names the plugin itself', async () => {
    const { pidsFile } = scratch('status');
    const logger = { entries: [] as Array<{ message: string; fields: Record<string, unknown> }>, log(_l: string, message: string, fields = {}) { this.entries.push({ message, fields }); } };
    const host = createHost({ buildId: 'procs', logger });
    hosts.push(host);
    const plugin = await host.loadDynamic(options(pidsFile));
    const pids = await started(pidsFile);
    expect(JSON.parse(Buffer.from(await plugin.call('pids', new Uint8Array(0))).toString())).toEqual(pids);
    expect(plugin.pids()).toEqual([pids.plugin]);
    await expect(plugin.call('exit', new Uint8Array(0))).rejects.toMatchObject({ message: expect.stringContaining('exited with status 3') });
    await waitFor(() => leftovers(pids).length === 0, { timeoutMs: 3000, what: 'no leftovers after a plain exit' });
  });
});
