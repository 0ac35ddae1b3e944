// The TypeScript SDK through the example plugin (plugins-dynamic/textstats-ts),
// as a host sees it: a real subprocess, the handshake on its stdout, raw
// grpc-js clients on its Unix socket. No host code, no mocks.
// Runs dist/, built from src/ by vitest's globalSetup (test/setup/build-typescript.ts).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';

import { PLUGHOST_COOKIE } from '../../src/protocol/handshake.js';
import {
  ControllerService,
  HealthService,
  PluginService,
  StdioService,
  type WireDescribeResponse,
  type WireFrame,
  type WireResult,
} from '../../src/protocol/services.js';
import { tracked } from '../support/tracked.js';
import { waitFor } from '../support/wait-for.js';

const root = path.resolve(import.meta.dirname, '../..');
const pluginScript = path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js');
const nativeDir = path.join(root, 'plugins-native/textstats');
const nativePath = path.join(nativeDir, 'build/Release/textstats.node');

// ---------------------------------------------------------------------------
// The native textstats, loaded raw: the reference for statsBytes.

interface NativeTextStats {
  stats(text: Uint8Array, options?: { topK?: number }): unknown;
  statsBytes(text: Uint8Array): Uint8Array;
}
let native: NativeTextStats;

beforeAll(() => {
  if (!fs.existsSync(pluginScript)) throw new Error(`${pluginScript} is missing: test/setup/build-typescript.ts should have built it`);
  if (!fs.existsSync(nativePath)) {
    const cmakeJs = path.join(path.dirname(createRequire(import.meta.url).resolve('cmake-js/package.json')), 'bin/cmake-js');
    execFileSync(process.execPath, [cmakeJs, 'rebuild'], { cwd: nativeDir, stdio: 'pipe', timeout: 170_000 });
  }
  const m = { exports: {} as Record<string, unknown> };
  process.dlopen(m, nativePath);
  native = m.exports as unknown as NativeTextStats;
});

function nativeStatsBytes(text: Uint8Array): { payload: Buffer } | { code: string; message: string } {
  try {
    return { payload: Buffer.from(native.statsBytes(text)) };
  } catch (err) {
    const e = err as Error & { code: string };
    return { code: e.code, message: e.message };
  }
}

// ---------------------------------------------------------------------------
// Plugin processes: started the way a host starts them, always killed.

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

interface Started {
  child: Child;
  socketDir: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const { children, clients, tempDir } = tracked<Child>('plughost-sdk-');


function hostEnv(socketDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [PLUGHOST_COOKIE.key]: PLUGHOST_COOKIE.value,
    PLUGIN_PROTOCOL_VERSIONS: '1',
    PLUGIN_UNIX_SOCKET_DIR: socketDir,
    PLUGHOST_PARENT_PID: String(process.pid),
    ...extra,
  };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

function start(extra: Record<string, string | undefined> = {}): Started {
  const socketDir = tempDir();
  const child = spawn(process.execPath, [pluginScript], { env: hostEnv(socketDir, extra), stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, socketDir, stderr: () => stderr, exited };
}

/** Everything the plugin wrote on stdout up to (and without) the first newline. */
function firstLine(child: Child): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(out.slice(0, nl));
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`plugin exited (${code}) before a handshake; stdout ${JSON.stringify(out)}`));
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

const HANDSHAKE = /^1\|1\|unix\|(\/[^|]+)\|grpc$/;

const constructors = {
  plugin: grpc.makeGenericClientConstructor(PluginService, 'Plugin'),
  health: grpc.makeGenericClientConstructor(HealthService, 'Health'),
  controller: grpc.makeGenericClientConstructor(ControllerService, 'GRPCController'),
  stdio: grpc.makeGenericClientConstructor(StdioService, 'GRPCStdio'),
};

type AnyClient = grpc.Client & Record<string, any>;

function client(kind: keyof typeof constructors, address: string): AnyClient {
  const c = new constructors[kind](`unix:${address}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  }) as AnyClient;
  clients.push(c);
  return c;
}

function unary<T>(c: AnyClient, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](request, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

interface Running extends Started {
  address: string;
  plugin: AnyClient;
}

async function startServing(extra: Record<string, string | undefined> = {}): Promise<Running> {
  const started = start(extra);
  const line = await firstLine(started.child);
  const address = HANDSHAKE.exec(line)?.[1];
  if (address === undefined) throw new Error(`not a handshake line: ${JSON.stringify(line)}`);
  return { ...started, address, plugin: client('plugin', address) };
}

/** A raw Channel: frames by id. */
class RawChannel {
  readonly stream: grpc.ClientDuplexStream<WireFrame, WireFrame>;
  readonly frames = new Map<number, WireFrame[]>();
  readonly #waiters = new Map<number, (frame: WireFrame) => void>();
  #nextId = 1;

  constructor(plugin: AnyClient) {
    this.stream = plugin.Channel() as grpc.ClientDuplexStream<WireFrame, WireFrame>;
    this.stream.on('error', () => {});
    this.stream.on('data', (frame: WireFrame) => {
      const id = frame.id ?? 0;
      const list = this.frames.get(id) ?? [];
      list.push(frame);
      this.frames.set(id, list);
      const waiter = this.#waiters.get(id);
      if (waiter !== undefined && isFinal(frame)) {
        this.#waiters.delete(id);
        waiter(frame);
      }
    });
  }

  id(): number {
    return this.#nextId++;
  }

  send(frame: WireFrame & { open?: { method: string } }): void {
    this.stream.write(frame);
  }

  /** The call's final frame (result, batchResult or end). */
  final(id: number): Promise<WireFrame> {
    const done = this.frames.get(id)?.find(isFinal);
    if (done !== undefined) return Promise.resolve(done);
    return new Promise((resolve) => this.#waiters.set(id, resolve));
  }

  async call(method: string, payload: Uint8Array): Promise<WireResult> {
    const id = this.id();
    this.send({ id, call: { method, payload } });
    return (await this.final(id)).result!;
  }

  async batch(method: string, payloads: Uint8Array[]): Promise<WireResult[]> {
    const id = this.id();
    this.send({ id, batch: { method, payloads } });
    return (await this.final(id)).batchResult!.results ?? [];
  }
}

const isFinal = (f: WireFrame): boolean => f.result != null || f.batchResult != null || f.end != null;

const bytes = (s: string): Buffer => Buffer.from(s);
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString();

// ---------------------------------------------------------------------------
// Texts for statsBytes.

function corpus(): Buffer[] {
  // Deterministic pseudo-random text mixing ASCII, punctuation, case and multibyte words.
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const vocab = ['the', 'The', 'THE', 'cat', 'cat.', '"cat"', 'naïve', 'Ünïcödé', '日本語', 'emoji😀', '(a)', '--', 'x\\y', 'q"q', 'ctl\u0001', 'bs\b', 'del\u007f', "it's", 'zebra', 'Zebra!'];
  const seps = [' ', '  ', '\n', '\t', '\r\n', '\v', '\f'];
  const parts: string[] = [];
  for (let i = 0; i < 5000; i++) parts.push(vocab[rand(vocab.length)]!, seps[rand(seps.length)]!);
  return [
    bytes(''),
    bytes('hello world'),
    bytes('Hello, hello; HELLO! world\nworld\n'),
    bytes('   \n\n\t  '),
    bytes('... --- !!! ???'),
    bytes('a b c d e f g h i j k l m n o p q r s t u v w x y z a b c'),
    bytes('tie1 tie2 tie3 tie4 tie5 tie6 tie7 tie8 tie9 tie10 tie11 tie12'),
    bytes('"quoted" back\\slash in"side ctl\u0001x bs\bx \u001fx'),
    bytes('Ärger ärger ÄRGER straße STRASSE 😀😀 😀😀 日本 日本'),
    bytes('no trailing newline\nlast line'),
    Buffer.from(parts.join('')),
  ];
}

const invalidUtf8 = [
  Buffer.from([0xff]),
  Buffer.from('ok then \x80 bad', 'latin1'),
  Buffer.from([0x61, 0x20, 0xc0, 0x80]), // overlong
  Buffer.from([0xed, 0xa0, 0x80]), // surrogate
  Buffer.from([0x61, 0xe2, 0x82]), // truncated
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
];

// ---------------------------------------------------------------------------

describe('start-up', () => {
  it('prints only the handshake line, with a socket in PLUGIN_UNIX_SOCKET_DIR', async () => {
    const started = start();
    let stdout = '';
    started.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const line = await firstLine(started.child);
    expect(line).toMatch(HANDSHAKE);
    const address = HANDSHAKE.exec(line)![1]!;
    expect(path.dirname(address)).toBe(started.socketDir);
    expect(fs.statSync(address).isSocket()).toBe(true);
    expect(fs.statSync(address).mode & 0o777).toBe(0o600);
    // All it will ever print is in once it has exited (stdin closed) and its stdout has ended.
    const stdoutEnded = new Promise((resolve) => started.child.stdout.once('end', resolve));
    started.child.stdin.end();
    await Promise.all([started.exited, stdoutEnded]);
    expect(stdout).toBe(`${line}\n`);
  });

  it('gives each instance its own socket', async () => {
    const [a, b] = await Promise.all([startServing(), startServing()]);
    expect(a.address).not.toBe(b.address);
  });

  it('answers the health check for "plugin" and "" with SERVING', async () => {
    const p = await startServing();
    const health = client('health', p.address);
    expect(await unary(health, 'Check', { service: 'plugin' })).toMatchObject({ status: 1 });
    expect(await unary(health, 'Check', { service: '' })).toMatchObject({ status: 1 });
    const err = (await unary(health, 'Check', { service: 'nope' }).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.NOT_FOUND);
  });

  it('keeps GRPCStdio open and silent', async () => {
    const p = await startServing();
    const stdio = client('stdio', p.address);
    const stream = stdio.StreamStdio({}) as grpc.ClientReadableStream<unknown>;
    const events: string[] = [];
    stream.on('data', () => events.push('data'));
    stream.on('end', () => events.push('end'));
    stream.on('error', () => events.push('error'));
    // Later round trips on the same connection: an end or a message sent as the stream opened would have come first.
    const health = new constructors.health(`unix:${p.address}`, grpc.credentials.createInsecure(), { channelOverride: stdio.getChannel() }) as AnyClient;
    for (let i = 0; i < 2; i++) expect(await unary(health, 'Check', { service: 'plugin' })).toMatchObject({ status: 1 });
    expect(events).toEqual([]);
    stream.cancel();
  });

  it('describes itself', async () => {
    const p = await startServing();
    const d = await unary<WireDescribeResponse>(p.plugin, 'Describe', { protocolVersion: 1 });
    expect(d.name).toBe('textstats');
    expect(d.version).toBe('1.0.0');
    expect(d.protocolVersion).toBe(1);
    expect([...(d.capabilities ?? [])].sort()).toEqual(['batch', 'channel', 'configure']);
    const methods = (d.methods ?? []).map((m) => ({ name: m.name, kind: m.kind ?? 0 }));
    expect(methods.sort((a, b) => a.name!.localeCompare(b.name!))).toEqual([
      { name: 'echo', kind: 0 },
      { name: 'statsBytes', kind: 0 },
      { name: 'upper', kind: 1 },
    ]);
  });

  it('refuses to run without the right cookie: status 1, a message on stderr, no handshake', async () => {
    for (const cookie of [undefined, 'wrong']) {
      const started = start({ [PLUGHOST_COOKIE.key]: cookie });
      let stdout = '';
      started.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      expect(await started.exited).toEqual({ code: 1, signal: null });
      expect(stdout).toBe('');
      expect(started.stderr()).toContain(PLUGHOST_COOKIE.key);
      expect(started.stderr()).toMatch(/plughost plugin/);
    }
  });

  it('exits 1 when no app protocol version is in common', async () => {
    const started = start({ PLUGIN_PROTOCOL_VERSIONS: '2,3' });
    let stdout = '';
    started.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    expect(await started.exited).toEqual({ code: 1, signal: null });
    expect(stdout).toBe('');
    expect(started.stderr()).toMatch(/no app protocol version in common.*"2,3"/);
  });
});

describe('methods', () => {
  it('Call statsBytes is byte-identical to the native plugin', async () => {
    const p = await startServing();
    for (const t of corpus()) {
      const want = nativeStatsBytes(t);
      expect('payload' in want).toBe(true);
      const got = await unary<WireResult>(p.plugin, 'Call', { method: 'statsBytes', payload: t });
      expect(got.error ?? null).toBeNull();
      expect(Buffer.from(got.payload ?? []).equals((want as { payload: Buffer }).payload)).toBe(true);
    }
  });

  it('answers invalid UTF-8 like the native plugin: PLUGHOST_INVALID_ARGUMENT', async () => {
    const p = await startServing();
    for (const t of invalidUtf8) {
      const want = nativeStatsBytes(t) as { code: string; message: string };
      expect(want.code).toBe('PLUGHOST_INVALID_ARGUMENT');
      const got = await unary<WireResult>(p.plugin, 'Call', { method: 'statsBytes', payload: t });
      expect(got.error).toMatchObject({ code: 'PLUGHOST_INVALID_ARGUMENT', message: want.message });
    }
  });

  it('answers an unknown method with PLUGHOST_UNKNOWN_METHOD', async () => {
    const p = await startServing();
    const got = await unary<WireResult>(p.plugin, 'Call', { method: 'nope', payload: bytes('x') });
    expect(got.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    expect(got.error?.message).toContain('nope');
    // A STREAM method is not callable as UNARY.
    const stream = await unary<WireResult>(p.plugin, 'Call', { method: 'upper', payload: bytes('x') });
    expect(stream.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
  });

  it('Call echo returns the payload, empty included', async () => {
    const p = await startServing();
    expect(text((await unary<WireResult>(p.plugin, 'Call', { method: 'echo', payload: bytes('abc') })).payload)).toBe('abc');
    const empty = await unary<WireResult>(p.plugin, 'Call', { method: 'echo', payload: new Uint8Array(0) });
    expect(empty.error ?? null).toBeNull();
    expect(Buffer.from(empty.payload ?? []).length).toBe(0);
  });

  it('Batch answers one result per payload, in order; a failing item fails only itself', async () => {
    const p = await startServing();
    const texts = [bytes('a b a'), invalidUtf8[0]!, bytes('c')];
    const res = await unary<{ results?: WireResult[] }>(p.plugin, 'Batch', { method: 'statsBytes', payloads: texts });
    const results = res.results ?? [];
    expect(results).toHaveLength(3);
    expect(text(results[0]!.payload)).toBe(text((nativeStatsBytes(texts[0]!) as { payload: Buffer }).payload));
    expect(results[1]!.error?.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    expect(text(results[2]!.payload)).toBe('{"bytes":1,"lines":0,"words":1,"top":[["c",1]]}');
    const unknown = await unary<{ results?: WireResult[] }>(p.plugin, 'Batch', { method: 'nope', payloads: [bytes('1'), bytes('2')] });
    expect(unknown.results?.map((r) => r.error?.code)).toEqual(['PLUGHOST_UNKNOWN_METHOD', 'PLUGHOST_UNKNOWN_METHOD']);
  });

  it('Configure changes topK; a refused configuration keeps the old one', async () => {
    const p = await startServing();
    const sample = bytes('b a b c a b d e d d d');
    const configure = (json: string): Promise<{ error?: { code?: string } | null }> => unary(p.plugin, 'Configure', { config: bytes(json) });
    const stats = async (): Promise<string> => text((await unary<WireResult>(p.plugin, 'Call', { method: 'statsBytes', payload: sample })).payload);

    expect((await configure('{"topK":2}')).error ?? null).toBeNull();
    expect(await stats()).toBe(JSON.stringify(native.stats(sample, { topK: 2 })));
    expect(await stats()).toBe('{"bytes":21,"lines":0,"words":11,"top":[["d",4],["b",3]]}');
    for (const bad of ['not json', '[1]', '{"topK":-1}', '{"topK":1.5}']) {
      expect((await configure(bad)).error?.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    }
    expect(await stats()).toBe(JSON.stringify(native.stats(sample, { topK: 2 })));
    expect((await configure('{}')).error ?? null).toBeNull();
    expect(Buffer.from(await stats()).equals(Buffer.from(native.statsBytes(sample)))).toBe(true);
  });
});

describe('Channel', () => {
  it('carries 1000 concurrent calls, matched by id', async () => {
    const p = await startServing();
    const ch = new RawChannel(p.plugin);
    const n = 1000;
    const ids = Array.from({ length: n }, () => ch.id());
    for (const id of ids) ch.send({ id, call: { method: 'echo', payload: bytes(`payload ${id}`) } });
    const finals = await Promise.all(ids.map((id) => ch.final(id)));
    finals.forEach((frame, i) => {
      expect(frame.id).toBe(ids[i]);
      expect(text(frame.result?.payload)).toBe(`payload ${ids[i]}`);
    });
    for (const id of ids) expect(ch.frames.get(id)).toHaveLength(1);
  });

  it('answers statsBytes, errors and batches on the channel', async () => {
    const p = await startServing();
    const ch = new RawChannel(p.plugin);
    const t = corpus()[2]!;
    expect(Buffer.from((await ch.call('statsBytes', t)).payload ?? []).equals(native.statsBytes(t) as Buffer)).toBe(true);
    expect((await ch.call('statsBytes', invalidUtf8[1]!)).error?.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    expect((await ch.call('nope', bytes(''))).error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    const results = await ch.batch('echo', [bytes('one'), bytes(''), bytes('three')]);
    expect(results.map((r) => text(r.payload))).toEqual(['one', '', 'three']);
    expect(results.every((r) => r.error == null)).toBe(true);
    expect((await ch.batch('nope', [bytes('x')]))[0]!.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    expect(await ch.batch('echo', [])).toEqual([]);
  });

  it('runs the STREAM method upper: data frames, then end', async () => {
    const p = await startServing();
    const ch = new RawChannel(p.plugin);
    const id = ch.id();
    ch.send({ id, open: { method: 'upper' } });
    for (const m of ['abc', 'Hello, wörld', '']) ch.send({ id, data: bytes(m) });
    ch.send({ id, end: {} });
    const end = await ch.final(id);
    expect(end.end?.error ?? null).toBeNull();
    const frames = ch.frames.get(id)!;
    expect(frames.slice(0, -1).map((f) => text(f.data ?? undefined))).toEqual(['ABC', 'HELLO, WöRLD', '']);

    const unknown = ch.id();
    ch.send({ id: unknown, open: { method: 'nope' } });
    expect((await ch.final(unknown)).end?.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    const unary = ch.id();
    ch.send({ id: unary, open: { method: 'echo' } });
    expect((await ch.final(unary)).end?.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
  });

  it('stops a cancelled call: nothing more is sent for it, the channel goes on', async () => {
    const p = await startServing();
    const ch = new RawChannel(p.plugin);
    const id = ch.id();
    ch.send({ id, open: { method: 'upper' } });
    ch.send({ id, data: bytes('first') });
    await waitFor(() => ch.frames.get(id)?.length, { what: 'the first upper frame' });
    ch.send({ id, cancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } });
    ch.send({ id, data: bytes('second') });
    ch.send({ id, end: {} });
    expect(text((await ch.call('echo', bytes('still here'))).payload)).toBe('still here');
    // A later stream on the same channel, run to its end: anything more for the cancelled one would have come by then.
    const later = ch.id();
    ch.send({ id: later, open: { method: 'upper' } });
    ch.send({ id: later, data: bytes('later') });
    ch.send({ id: later, end: {} });
    await ch.final(later);
    expect(ch.frames.get(id)!.map((f) => text(f.data ?? undefined))).toEqual(['FIRST']);
    // Frames for unknown ids are ignored.
    ch.send({ id: 999_999, data: bytes('?') });
    ch.send({ id: 999_998, cancel: {} });
    ch.send({ id: 999_997, end: {} });
    expect(text((await ch.call('echo', bytes('after'))).payload)).toBe('after');
    expect(ch.frames.has(999_999) || ch.frames.has(999_998) || ch.frames.has(999_997)).toBe(false);
  });

  it('answers an oversized result with PLUGHOST_MESSAGE_TOO_LARGE and keeps the channel', async () => {
    const max = 64 * 1024;
    const p = await startServing({ PLUGHOST_MAX_MESSAGE_BYTES: String(max) });
    const ch = new RawChannel(p.plugin);
    // The request fits in a message; the same bytes as a result leave too little room around them.
    const big = new Uint8Array(max - 100).fill(0x61);
    const tooLarge = await ch.call('echo', big);
    expect(tooLarge.error?.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    expect(text((await ch.call('echo', bytes('small'))).payload)).toBe('small');
    // A result that fits, close to the limit.
    expect(Buffer.from((await ch.call('echo', new Uint8Array(max - 1024))).payload ?? []).length).toBe(max - 1024);
    // A batch whose results together are too large: the items past the limit fail, the rest answer.
    const third = new Uint8Array(Math.floor(max / 3) - 50);
    const results = await ch.batch('echo', [third, third, third]);
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'PLUGHOST_MESSAGE_TOO_LARGE']);
    // A stream message too large ends the stream with the error.
    const id = ch.id();
    ch.send({ id, open: { method: 'upper' } });
    ch.send({ id, data: big });
    expect((await ch.final(id)).end?.error?.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    expect(text((await ch.call('echo', bytes('still fine'))).payload)).toBe('still fine');
    // The unary Call RPC gets the same treatment.
    expect((await unary<WireResult>(p.plugin, 'Call', { method: 'echo', payload: big })).error?.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
  });
});

describe('lifetime', () => {
  it('exits 0 after answering Shutdown, and removes its socket', async () => {
    const p = await startServing();
    const ch = new RawChannel(p.plugin);
    expect(text((await ch.call('echo', bytes('hi'))).payload)).toBe('hi');
    const controller = client('controller', p.address);
    await unary(controller, 'Shutdown', {}).catch((err: grpc.ServiceError) => {
      if (err.code !== grpc.status.UNAVAILABLE) throw err;
    });
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(p.address)).toBe(false);
  });

  it('exits when its stdin is closed', async () => {
    const p = await startServing();
    const t0 = Date.now();
    p.child.stdin.end();
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('exits when its parent is gone, even with stdin still open', async () => {
    // A middle process starts the plugin (handing it the test's stdin pipe, so
    // stdin stays open), reports its pid, and is then killed.
    const socketDir = tempDir();
    const script = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, [${JSON.stringify(pluginScript)}], {
        env: { ...process.env, PLUGHOST_PARENT_PID: String(process.pid) },
        stdio: [0, 'pipe', 'inherit'],
      });
      child.stdout.once('data', (d) => process.stdout.write(child.pid + ' ' + d));
      setInterval(() => {}, 1000);
    `;
    const middle = spawn(process.execPath, ['-e', script], { env: hostEnv(socketDir), stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(middle);
    const line = await firstLine(middle);
    const [pidText, handshake] = line.split(' ');
    expect(handshake).toMatch(HANDSHAKE);
    const pid = Number(pidText);
    // A zombie (exited, not yet reaped by whoever adopted it) counts as gone.
    const alive = (): boolean => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    try {
      expect(alive()).toBe(true);
      middle.kill('SIGKILL');
      await waitFor(() => !alive(), { timeoutMs: 3000, what: `plugin pid ${pid} to exit once its parent is gone` });
      expect(alive()).toBe(false);
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL');
    }
  });
});
