// Regressions from a review of the dynamic path: calls that could hang, and
// processes or directories that could outlive a close, on rarer paths.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, type Host } from '../../src/index.js';
import { alive, bytes, capturingLogger, fixturePlugin, rejection, text, waitFor } from './support.js';

let hosts: Host[] = [];
const host = (): Host => {
  const h = createHost({ buildId: 'races', logger: capturingLogger() });
  hosts.push(h);
  return h;
};
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

// This file's own temp dir (each test file runs in its own process), so the
// socket-directory checks cannot see other files' plugins.
let tmp: string;
const savedTmp = process.env.TMPDIR;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-races-'));
  process.env.TMPDIR = tmp;
});
afterAll(() => {
  process.env.TMPDIR = savedTmp;
  fs.rmSync(tmp, { recursive: true, force: true });
});
const socketDirs = (): Set<string> => new Set(fs.readdirSync(tmp).filter((d) => d.startsWith('plughost-')));

describe('calls waiting in the host', () => {
  it('a call queued behind a full window honours its deadline and its signal', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { window: 1, microBatch: false }));
    void plugin.call('hang', bytes('')).catch(() => {});
    const controller = new AbortController();
    const byDeadline = rejection(plugin.call('echo', bytes('x'), { timeoutMs: 150 }));
    const bySignal = rejection(plugin.call('echo', bytes('y'), { signal: controller.signal }));
    // Aborted once both wait behind the hanging call, not before they got there.
    await waitFor(() => plugin.inFlight === 3, 2000, 'the two calls to queue behind the hanging one');
    controller.abort();
    expect((await bySignal).code).toBe('PLUGHOST_CALL_ABORTED');
    expect((await byDeadline).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
  });

  it('a stream queued behind a full window keeps what was written before it started', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { window: 1, microBatch: false }));
    const blocker = plugin.call('sleep', bytes('200'));
    const stream = await plugin.stream('upper');
    stream.write(bytes('abc'));
    stream.end();
    const got: string[] = [];
    for await (const m of stream) got.push(text(m));
    expect(got).toEqual(['ABC']);
    await blocker;
  });

  it('a call waiting for a restart honours its deadline', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 3000 } }));
    await rejection(plugin.call('crash', bytes('')));
    const started = Date.now();
    expect((await rejection(plugin.call('echo', bytes(''), { timeoutMs: 100 }))).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('coalesced calls are split by the same size rule the channel enforces', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { maxMessageBytes: 1024 }));
    const payloads = Array.from({ length: 4 }, () => new Uint8Array(184));
    const answers = await Promise.all(payloads.map((p) => plugin.call('echo', p)));
    expect(answers.map((a) => a.length)).toEqual([184, 184, 184, 184]);
  });
});

describe('nothing outlives close()', () => {
  it('a refused configuration is not kept, so restarts still succeed', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 5 } }));
    await rejection(plugin.configure({ reject: true }));
    await rejection(plugin.call('crash', bytes('')));
    expect(text(await plugin.call('echo', bytes('up')))).toBe('up');
    expect(plugin.stats()).toMatchObject({ restarts: 1 });
  });

  it('a reload during restart backoff leaves no second instance behind', async () => {
    const h = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 300 } }));
    // A twin with the same backoff, crashed after the reload: its restart timer fires after the
    // cancelled one would have (same delay, set later), so once the twin is back, ours had its chance.
    const twin = await h.loadDynamic(fixturePlugin({}, { name: 'twin', restart: { initialBackoffMs: 300 } }));
    await rejection(plugin.call('crash', bytes('')));
    await plugin.reload();
    const [pid] = plugin.pids();
    await rejection(twin.call('crash', bytes('')));
    await waitFor(() => twin.stats().restarts === 1, 10_000, "the twin's restart, past the cancelled backoff");
    await twin.call('echo', bytes('back'));
    expect(plugin.pids()).toEqual([pid]);
    await h.close();
    expect(alive(pid!)).toBe(false);
  });

  it('close() during restart backoff returns promptly and leaves nothing running', async () => {
    const h = host();
    const before = socketDirs();
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 5000 } }));
    await rejection(plugin.call('crash', bytes('')));
    const started = Date.now();
    await h.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect([...socketDirs()].filter((d) => !before.has(d))).toEqual([]);
    expect((await rejection(h.loadDynamic(fixturePlugin()))).code).toBe('PLUGHOST_PLUGIN_CLOSED');
  });

  it('a command the OS refuses to start is a typed error and leaks no socket directory', async () => {
    const before = socketDirs();
    const h = host();
    for (const command of [['/nonexistent/plugin'], [process.execPath, 'with\u0000nul']]) {
      const err = await rejection(h.loadDynamic({ name: 'bad', command }));
      expect(err.code).toBe('PLUGHOST_SPAWN_FAILED');
    }
    await waitFor(() => [...socketDirs()].every((d) => before.has(d)), 2000, 'socket directories to be removed');
  });
});
