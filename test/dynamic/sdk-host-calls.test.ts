// Host calls in the TypeScript SDK (docs/protocol.md, "Host calls"): this
// test plays the host on a raw Channel — Describe with host_services, a call
// frame to a method that calls ctx.host.call, then the plugin's host_call
// frame answered (or not) by hand. A real plugin subprocess, no host code, no
// mocks. Runs dist/ (built by test/setup/build-typescript.ts).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { PLUGHOST_COOKIE } from '../../src/protocol/handshake.js';
import { PluginService, type WireFrame, type WireResult } from '../../src/protocol/services.js';
import { tracked } from '../support/tracked.js';
import { waitFor } from '../support/wait-for.js';

const root = path.resolve(import.meta.dirname, '../..');
const sdk = pathToFileURL(path.join(root, 'dist/src/sdk/index.js')).href;

// `ask` makes one host call as its payload (JSON) says; `background` makes
// one through RunningPlugin.host, outside any method, and `outcome` tells how it went.
const PLUGIN_SOURCE = `
import { serve } from ${JSON.stringify(sdk)};
const str = (b) => Buffer.from(b).toString();
let outcome = 'none';
const plugin = await serve({
  name: 'host-caller',
  version: '1.0.0',
  methods: {
    ask: async (p, ctx) => {
      const req = JSON.parse(str(p));
      const options = {};
      if (req.timeoutMs !== undefined) options.timeoutMs = req.timeoutMs;
      if (req.abortAfterMs !== undefined) options.signal = AbortSignal.timeout(req.abortAfterMs);
      return ctx.host.call(req.service, req.size === undefined ? req.payload : new Uint8Array(req.size), options);
    },
    services: (_p, ctx) => Buffer.from(JSON.stringify(ctx.host.services)),
    background: (p) => {
      const req = JSON.parse(str(p));
      outcome = 'pending';
      plugin.host.call(req.service, req.payload).then(
        (r) => (outcome = 'ok:' + str(r)),
        (e) => (outcome = e.code + ':' + e.message),
      );
      return Buffer.from('started');
    },
    outcome: () => Buffer.from(outcome),
  },
});
`;

// ---------------------------------------------------------------------------

type Child = ChildProcessByStdio<Writable, Readable, Readable>;
const { children, clients, tempDir } = tracked<Child>('plughost-sdk-hostcalls-');

const PluginClient = grpc.makeGenericClientConstructor(PluginService, 'Plugin');
type AnyClient = grpc.Client & Record<string, any>;

/** Starts the plugin as a host does; resolves with a client on its socket. */
async function startPlugin(env: Record<string, string> = {}): Promise<{ plugin: AnyClient; stderr: () => string }> {
  const dir = tempDir();
  const script = path.join(dir, 'plugin.mjs');
  fs.writeFileSync(script, PLUGIN_SOURCE);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PLUGHOST_|PLUGIN_)/.test(k)));
  const child = spawn(process.execPath, [script], {
    env: { ...base, [PLUGHOST_COOKIE.key]: PLUGHOST_COOKIE.value, PLUGIN_PROTOCOL_VERSIONS: '1', PLUGIN_UNIX_SOCKET_DIR: dir, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`plugin exited (${code}) before its handshake: ${stderr}`)));
  });
  const socket = /^1\|1\|unix\|(\/[^|]+)\|grpc$/.exec(line)?.[1];
  if (socket === undefined) throw new Error(`not a handshake: ${JSON.stringify(line)}`);
  const plugin = new PluginClient(`unix:${socket}`, grpc.credentials.createInsecure()) as AnyClient;
  clients.push(plugin);
  return { plugin, stderr: () => stderr };
}

function unary<T>(c: AnyClient, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](request, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

const describeWith = (c: AnyClient, hostServices: string[]): Promise<unknown> => unary(c, 'Describe', { protocolVersion: 1, hostServices });

/** One Channel, as a host holds it: every frame the plugin sent, in order, and a way to wait for one. */
class RawChannel {
  readonly stream: grpc.ClientDuplexStream<WireFrame, WireFrame>;
  readonly frames: WireFrame[] = [];
  #waiters: Array<{ match: (f: WireFrame) => boolean; resolve: (f: WireFrame) => void }> = [];
  #nextId = 1;

  constructor(plugin: AnyClient) {
    this.stream = plugin.Channel() as grpc.ClientDuplexStream<WireFrame, WireFrame>;
    this.stream.on('error', () => {});
    this.stream.on('data', (frame: WireFrame) => {
      this.frames.push(frame);
      for (const w of [...this.#waiters]) {
        if (!w.match(frame)) continue;
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    });
  }

  /** The first frame (already received or still to come) that matches. */
  frame(match: (f: WireFrame) => boolean): Promise<WireFrame> {
    const seen = this.frames.find(match);
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Sends a call frame to `method` with `payload`; returns its id. */
  call(method: string, payload: object | string): number {
    const id = this.#nextId++;
    this.stream.write({ id, call: { method, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)) } });
    return id;
  }

  result(id: number): Promise<WireResult> {
    return this.frame((f) => f.id === id && f.result != null).then((f) => f.result!);
  }

  /** The next host_call frame after the first `after` of them. */
  hostCall(after = 0): Promise<WireFrame> {
    let seen = 0;
    return this.frame((f) => f.hostCall != null && seen++ >= after);
  }

  answer(id: number, result: WireResult): void {
    this.stream.write({ id, hostResult: result });
  }

  /** The frames before `frame` (by arrival). */
  before(frame: WireFrame): WireFrame[] {
    return this.frames.slice(0, this.frames.indexOf(frame));
  }
}

const text = (b: Uint8Array | undefined | null): string => Buffer.from(b ?? []).toString();

// ---------------------------------------------------------------------------

describe('ctx.host.call over the Channel', () => {
  it('lists the services of Describe, sends host_call with the default timeout, and resolves with host_result', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv', 'log']);
    const ch = new RawChannel(plugin);
    expect(text((await ch.result(ch.call('services', ''))).payload)).toBe('["kv","log"]');

    const id = ch.call('ask', { service: 'kv', payload: 'key-1' });
    const hc = await ch.hostCall();
    expect(hc.id).toBeGreaterThan(0);
    expect(hc.hostCall).toMatchObject({ service: 'kv', timeoutMs: 30_000 });
    expect(text(hc.hostCall!.payload)).toBe('key-1');
    // An answer for an id the plugin has no host call for is ignored.
    ch.answer(hc.id! + 1000, { payload: Buffer.from('stray') });
    ch.answer(hc.id!, { payload: Buffer.from('value-1') });
    const r = await ch.result(id);
    expect(r.error ?? null).toBeNull();
    expect(text(r.payload)).toBe('value-1');
  });

  it('keeps concurrent host calls apart by id, answered in any order', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const a = ch.call('ask', { service: 'kv', payload: 'a' });
    const b = ch.call('ask', { service: 'kv', payload: 'b' });
    const [first, second] = await Promise.all([ch.hostCall(0), ch.hostCall(1)]);
    expect(new Set([first!.id, second!.id]).size).toBe(2);
    for (const hc of [second!, first!]) ch.answer(hc.id!, { payload: Buffer.from(`answer to ${text(hc.hostCall!.payload)}`) });
    expect(text((await ch.result(a)).payload)).toBe('answer to a');
    expect(text((await ch.result(b)).payload)).toBe('answer to b');
  });

  it("rejects with the host_result's error code and message", async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const id = ch.call('ask', { service: 'kv', payload: 'missing' });
    const hc = await ch.hostCall();
    ch.answer(hc.id!, { error: { code: 'KV_NOT_FOUND', message: 'no such key' } });
    expect((await ch.result(id)).error).toMatchObject({ code: 'KV_NOT_FOUND', message: 'no such key' });
  });

  it('refuses a service the host did not list with PLUGHOST_HOST_SERVICE_NOT_FOUND, sending nothing', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const id = ch.call('ask', { service: 'secrets', payload: 'x' });
    const r = await ch.result(id);
    expect(r.error).toMatchObject({ code: 'PLUGHOST_HOST_SERVICE_NOT_FOUND' });
    expect(r.error!.message).toContain('"secrets"');
    // Frames are ordered: a host_call sent before the result would have arrived before it.
    expect(ch.frames.filter((f) => f.hostCall != null)).toEqual([]);
  });

  it('refuses a payload over max − 256 − the service name with PLUGHOST_MESSAGE_TOO_LARGE, sending nothing', async () => {
    const max = 4096;
    const { plugin } = await startPlugin({ PLUGHOST_MAX_MESSAGE_BYTES: String(max) });
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const limit = max - 256 - 'kv'.length;
    const over = await ch.result(ch.call('ask', { service: 'kv', size: limit + 1 }));
    expect(over.error).toMatchObject({ code: 'PLUGHOST_MESSAGE_TOO_LARGE' });
    expect(ch.frames.filter((f) => f.hostCall != null)).toEqual([]);
    const id = ch.call('ask', { service: 'kv', size: limit });
    const hc = await ch.hostCall();
    expect(Buffer.from(hc.hostCall!.payload!).length).toBe(limit);
    ch.answer(hc.id!, { payload: Buffer.from('fits') });
    expect(text((await ch.result(id)).payload)).toBe('fits');
  });

  it('gives up at its own deadline: PLUGHOST_DEADLINE_EXCEEDED, and host_cancel for the call', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const id = ch.call('ask', { service: 'kv', payload: 'slow', timeoutMs: 300 });
    const hc = await ch.hostCall();
    expect(hc.hostCall!.timeoutMs).toBe(300);
    const cancel = await ch.frame((f) => f.hostCancel != null);
    expect(cancel).toMatchObject({ id: hc.id, hostCancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } });
    expect((await ch.result(id)).error).toMatchObject({ code: 'PLUGHOST_DEADLINE_EXCEEDED' });
    // A late answer is ignored; the Channel goes on.
    ch.answer(hc.id!, { payload: Buffer.from('too late') });
    expect(text((await ch.result(ch.call('services', ''))).payload)).toBe('["kv"]');
  });

  it("is cancelled with its method: the host's cancel of the call sends host_cancel", async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const id = ch.call('ask', { service: 'kv', payload: 'x' });
    const hc = await ch.hostCall();
    ch.stream.write({ id, cancel: { reason: 'PLUGHOST_CALL_ABORTED' } });
    const cancel = await ch.frame((f) => f.hostCancel != null);
    expect(cancel).toMatchObject({ id: hc.id, hostCancel: { reason: 'PLUGHOST_CANCELLED' } });
  });

  it('is cancelled by its own signal, combined with the method: PLUGHOST_CANCELLED and host_cancel', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const ch = new RawChannel(plugin);
    const id = ch.call('ask', { service: 'kv', payload: 'x', timeoutMs: 60_000, abortAfterMs: 100 });
    const hc = await ch.hostCall();
    expect(await ch.frame((f) => f.hostCancel != null)).toMatchObject({ id: hc.id, hostCancel: { reason: 'PLUGHOST_CANCELLED' } });
    expect((await ch.result(id)).error).toMatchObject({ code: 'PLUGHOST_CANCELLED' });
  });

  it('answers each host call on the Channel it was sent on', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const a = new RawChannel(plugin);
    const b = new RawChannel(plugin);
    await Promise.all([a.frame((f) => f.credit != null), b.frame((f) => f.credit != null)]); // both hellos: both Channels are open
    const id = a.call('ask', { service: 'kv', payload: 'on a' });
    const hc = await a.hostCall();
    // The same id on the other Channel is not this call.
    b.answer(hc.id!, { payload: Buffer.from('from b') });
    expect(text((await b.result(b.call('services', ''))).payload)).toBe('["kv"]');
    a.answer(hc.id!, { payload: Buffer.from('from a') });
    expect(text((await a.result(id)).payload)).toBe('from a');
    expect(b.frames.filter((f) => f.hostCall != null)).toEqual([]);
  });
});

describe('host calls without a Channel to carry them', () => {
  it('fails ctx.host.call in a method reached by the unary Call RPC with PLUGHOST_HOST_CALLS_UNAVAILABLE', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const r = await unary<WireResult>(plugin, 'Call', { method: 'ask', payload: Buffer.from(JSON.stringify({ service: 'kv', payload: 'x' })) });
    expect(r.error).toMatchObject({ code: 'PLUGHOST_HOST_CALLS_UNAVAILABLE' });
  });

  it('RunningPlugin.host: unavailable with no Channel, goes over an open one, and fails when that Channel ends', async () => {
    const { plugin } = await startPlugin();
    await describeWith(plugin, ['kv']);
    const call = (method: string, payload = ''): Promise<WireResult> => unary<WireResult>(plugin, 'Call', { method, payload: Buffer.from(payload) });
    const outcome = async (): Promise<string> => text((await call('outcome')).payload);
    const settled = (): Promise<string> => waitFor(async () => ((await outcome()) === 'pending' ? false : outcome()), { what: 'the background host call to settle' });
    const background = JSON.stringify({ service: 'kv', payload: 'bg' });

    await call('background', background);
    expect(await settled()).toMatch(/^PLUGHOST_HOST_CALLS_UNAVAILABLE:/);

    const ch = new RawChannel(plugin);
    await ch.frame((f) => f.credit != null); // the hello: the Channel is open in the plugin
    await call('background', background);
    const hc = await ch.hostCall();
    expect(hc.hostCall).toMatchObject({ service: 'kv' });
    ch.answer(hc.id!, { payload: Buffer.from('bg answer') });
    expect(await settled()).toBe('ok:bg answer');

    await call('background', background);
    await ch.hostCall(1);
    ch.stream.end();
    expect(await settled()).toMatch(/^PLUGHOST_HOST_CALLS_UNAVAILABLE:/);
  });
});
