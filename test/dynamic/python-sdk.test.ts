// The Python SDK (plugins-dynamic/python) and its example plugin, as real
// subprocesses on real sockets, driven by raw grpc-js clients (no host code):
// the protocol of docs/protocol.md seen from the wire. Also the go-plugin-style
// Python fixture (test/fixtures/dynamic/python/kv_plugin.py).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs/light.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { PROTOCOL_DESCRIPTOR } from '../../src/protocol/descriptor.js';
import { ENV, PLUGHOST_COOKIE } from '../../src/protocol/handshake.js';
import {
  ControllerService,
  HealthService,
  METHOD_KIND,
  PluginService,
  SERVING_STATUS,
  StdioService,
  type WireBatchResponse,
  type WireDescribeResponse,
  type WireFrame,
  type WireResult,
} from '../../src/protocol/services.js';
import { waitFor } from '../support/wait-for.js';

const require = createRequire(import.meta.url);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const textstatsPy = path.join(repoRoot, 'plugins-dynamic/textstats-py/textstats.py');
const fixtures = path.join(repoRoot, 'test/fixtures/dynamic/python');
const edgePy = path.join(fixtures, 'edge_plugin.py');
const kvPy = path.join(fixtures, 'kv_plugin.py');
const nativeDir = path.join(repoRoot, 'plugins-native/textstats');
const nativePath = path.join(nativeDir, 'build/Release/textstats.node');

const PluginClient = grpc.makeGenericClientConstructor(PluginService, 'Plugin');
const HealthClient = grpc.makeGenericClientConstructor(HealthService, 'Health');
const ControllerClient = grpc.makeGenericClientConstructor(ControllerService, 'GRPCController');
const StdioClient = grpc.makeGenericClientConstructor(StdioService, 'GRPCStdio');
type AnyClient = grpc.Client & Record<string, any>;

let python: string;
let native: { statsBytes(text: Uint8Array): Uint8Array };

beforeAll(() => {
  python = pythonWithGrpc();
  if (!fs.existsSync(nativePath)) {
    const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin/cmake-js');
    execFileSync(process.execPath, [cmakeJs, 'rebuild'], { cwd: nativeDir, stdio: 'pipe', timeout: 170_000 });
  }
  const m = { exports: {} as Record<string, unknown> };
  process.dlopen(m, nativePath);
  native = m.exports as unknown as typeof native;
});

// ---------------------------------------------------------------------------
// Starting plugins

interface Started {
  child: ChildProcessWithoutNullStreams;
  /** The first stdout line, verbatim. */
  line: string;
  fields: string[];
  target: string;
  socketDir: string;
  spawnToHandshakeMs: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const clients: grpc.Client[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

interface StartOptions {
  cookie?: { key: string; value: string } | null;
  versions?: string;
  maxMessageBytes?: number;
  env?: Record<string, string>;
  command?: string[];
  stdin?: 'pipe' | 'ignore';
}

function spawnPlugin(script: string, options: StartOptions = {}): { child: ChildProcessWithoutNullStreams; socketDir: string } {
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-py-'));
  fs.chmodSync(socketDir, 0o700);
  dirs.push(socketDir);
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env[PLUGHOST_COOKIE.key];
  const cookie = options.cookie === undefined ? PLUGHOST_COOKIE : options.cookie;
  if (cookie !== null) env[cookie.key] = cookie.value;
  env[ENV.protocolVersions] = options.versions ?? '1';
  env[ENV.socketDir] = socketDir;
  env[ENV.parentPid] = String(process.pid);
  if (options.maxMessageBytes !== undefined) env[ENV.maxMessageBytes] = String(options.maxMessageBytes);
  Object.assign(env, options.env);
  const [program, ...args] = options.command ?? [python, script];
  const child = spawn(program!, args, { env, stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
  children.push(child);
  return { child, socketDir };
}

function collect(child: ChildProcessWithoutNullStreams): { stderr: () => string; exited: Started['exited'] } {
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { stderr: () => stderr, exited };
}

async function start(script: string, options: StartOptions = {}): Promise<Started> {
  const t0 = performance.now();
  const { child, socketDir } = spawnPlugin(script, options);
  const { stderr, exited } = collect(child);
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no handshake within 10 s; stderr: ${stderr()}`)), 10_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`plugin exited before the handshake (${JSON.stringify(status)}); stderr: ${stderr()}`));
    });
  });
  const spawnToHandshakeMs = performance.now() - t0;
  const fields = line.split('|');
  return { child, line, fields, target: `unix:${fields[3]}`, socketDir, spawnToHandshakeMs, stderr, exited };
}

function client<T extends grpc.ServiceClientConstructor>(ctor: T, target: string, maxMessageBytes = 64 * 1024 * 1024): AnyClient {
  const c = new ctor(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  }) as unknown as AnyClient;
  clients.push(c);
  return c;
}

function unary<T>(c: AnyClient, method: string, request: object, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    c[method](request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

async function waitForExit(started: { exited: Started['exited'] }, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return Promise.race([
    started.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not exit within ${ms} ms`)), ms)),
  ]);
}

/** A Channel stream with a small request/response helper keyed by frame id. */
function openChannel(c: AnyClient) {
  const stream = c.Channel() as grpc.ClientDuplexStream<WireFrame, WireFrame & { kind?: string }>;
  const frames = new Map<number, Array<WireFrame & { kind?: string }>>();
  const waiters = new Map<number, () => void>();
  let ended = false;
  let error: Error | undefined;
  stream.on('data', (frame: WireFrame & { kind?: string }) => {
    const id = frame.id ?? 0;
    let list = frames.get(id);
    if (list === undefined) frames.set(id, (list = []));
    list.push(frame);
    waiters.get(id)?.();
  });
  stream.on('error', (err: Error) => (error = err));
  stream.on('end', () => (ended = true));
  return {
    stream,
    frames,
    get ended() {
      return ended;
    },
    get error() {
      return error;
    },
    write: (frame: WireFrame) => stream.write(frame),
    /** Resolves with the frames of `id` once `done(frames)` holds. */
    until(id: number, done: (fs: Array<WireFrame & { kind?: string }>) => boolean, ms = 10_000): Promise<Array<WireFrame & { kind?: string }>> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const list = frames.get(id) ?? [];
          if (done(list)) {
            waiters.delete(id);
            clearTimeout(timer);
            resolve(list);
          }
        };
        const timer = setTimeout(() => reject(new Error(`frame ${id}: timed out; got ${JSON.stringify(frames.get(id))}`)), ms);
        waiters.set(id, check);
        check();
      });
    },
    result: (id: number) =>
      new Promise<WireResult>((resolve, reject) => {
        const check = (): void => {
          const f = frames.get(id)?.find((x) => x.kind === 'result' || x.kind === 'batchResult');
          if (f) {
            waiters.delete(id);
            resolve((f.result ?? f.batchResult) as WireResult);
          }
        };
        waiters.set(id, check);
        setTimeout(() => reject(new Error(`frame ${id}: no result`)), 10_000);
        check();
      }),
  };
}

const enc = new TextEncoder();
const bytes = (s: string): Buffer => Buffer.from(enc.encode(s));
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('utf8');

/** The native plugin's outcome for a text: its bytes, or its error code and message. */
function nativeStats(input: Uint8Array): { ok: Buffer } | { code: string; message: string } {
  try {
    return { ok: Buffer.from(native.statsBytes(input)) };
  } catch (err) {
    const e = err as { code: string; message: string };
    return { code: e.code, message: e.message };
  }
}

function randomUtf8(n: number, seed: number): Buffer {
  // Mixed ASCII words, punctuation, whitespace and multi-byte code points.
  const pool = ['a', 'B', 'z', 'Q', '-', '.', ',', '!', '"', '\\', "'", ' ', ' ', '\n', '\t', '\r', '\v', '\f', 'é', 'Ü', 'ß', '日', '本', '🎉', '\u0000', '\u0007', '\u001f', '\u007f', '\u00a0', '\u2028'];
  let x = seed;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += pool[x % pool.length];
  }
  return bytes(s);
}

const SAMPLE_TEXTS: string[] = [
  '',
  'hello',
  'Hello, world! Hello again.\nThe world is big; the WORLD is round.\n',
  'Grüße aus Köln — ÜBER über Über! naïve café CAFÉ café\n日本語 テキスト 日本語。\n',
  '--- ... !!! (a) [b] {c} a, b. c; \'quoted\' "dq" back\\slash ~tilde~ `tick` @at #hash $ %',
  'ctrl a\bb a\u0001b a\u001fb x\u007fy tab\there\vvt\fff\r\ncr\r\n\n\n',
  '🎉🎉 party 🎉 🎉, "🎉"',
  // more than ten words with equal counts: ties broken by bytes
  'kiwi fig date cherry banana apple lemon mango nectarine orange pear quince raspberry ' +
    'apple banana cherry date fig kiwi lemon mango nectarine orange pear quince raspberry Zebra zebra ZEBRA',
  '   leading and trailing whitespace   \n\n',
  'a'.repeat(1000) + ' ' + 'b'.repeat(1000),
];

// ---------------------------------------------------------------------------

describe('Python SDK: textstats-py over the protocol', () => {
  it('handshakes fast with one line and serves health, Describe and StreamStdio', async () => {
    const p = await start(textstatsPy);
    expect(p.line).toMatch(/^1\|1\|unix\|\/.+\|grpc$/);
    expect(p.fields).toHaveLength(5);
    expect(path.dirname(p.fields[3]!)).toBe(p.socketDir);
    console.log(`textstats-py: spawn -> handshake ${p.spawnToHandshakeMs.toFixed(0)} ms`);

    const health = client(HealthClient, p.target);
    for (const service of ['plugin', '']) {
      expect(await unary<{ status: number }>(health, 'Check', { service })).toMatchObject({ status: SERVING_STATUS.SERVING });
    }
    await expect(unary(health, 'Check', { service: 'nope' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const watch = health.Watch({ service: 'plugin' }) as grpc.ClientReadableStream<{ status: number }>;
    watch.on('error', () => {}); // CANCELLED, below
    expect(await new Promise((resolve) => watch.once('data', resolve))).toMatchObject({ status: SERVING_STATUS.SERVING });
    watch.cancel();

    const plugin = client(PluginClient, p.target);
    const described = await unary<WireDescribeResponse>(plugin, 'Describe', { protocolVersion: 1 });
    expect(described.name).toBe('textstats-py');
    expect(described.version).toBe('1.0.0');
    expect(described.protocolVersion).toBe(1);
    expect(described.capabilities).toEqual(['channel', 'batch']);
    const kinds = Object.fromEntries((described.methods ?? []).map((m) => [m.name, m.kind ?? 0]));
    expect(kinds).toEqual({ statsBytes: METHOD_KIND.UNARY, echo: METHOD_KIND.UNARY, upper: METHOD_KIND.STREAM });

    // StreamStdio: opened, kept open, nothing sent.
    const stdioClient = client(StdioClient, p.target);
    const stdio = stdioClient.StreamStdio({}) as grpc.ClientReadableStream<unknown>;
    const opened = new Promise((resolve) => stdio.once('metadata', resolve));
    const events: string[] = [];
    stdio.on('data', () => events.push('data'));
    stdio.on('end', () => events.push('end'));
    stdio.on('error', (err: grpc.ServiceError) => events.push(`error ${err.code}`));
    // Its handler has run (it sends its headers first); then later round trips on the same
    // connection: an end or a message sent as the stream opened would have come before them.
    await opened;
    const sameConnection = new HealthClient(p.target, grpc.credentials.createInsecure(), { channelOverride: stdioClient.getChannel() }) as unknown as AnyClient;
    for (let i = 0; i < 2; i++) expect(await unary<{ status: number }>(sameConnection, 'Check', { service: 'plugin' })).toMatchObject({ status: SERVING_STATUS.SERVING });
    expect(events).toEqual([]);
    stdio.cancel();
    expect(p.child.exitCode).toBeNull();
  });

  it('statsBytes is byte-identical to the native plugin', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const inputs = [...SAMPLE_TEXTS.map(bytes), ...Array.from({ length: 40 }, (_, i) => randomUtf8(50 + i * 37, i + 1))];
    inputs.push(randomUtf8(300_000, 99));
    for (const input of inputs) {
      const want = nativeStats(input);
      expect('ok' in want, `native failed on ${JSON.stringify(text(input).slice(0, 60))}`).toBe(true);
      const got = await unary<WireResult>(plugin, 'Call', { method: 'statsBytes', payload: input });
      expect(got.error ?? null).toBeNull();
      expect(text(got.payload)).toBe((want as { ok: Buffer }).ok.toString('utf8'));
      expect(Buffer.compare(Buffer.from(got.payload ?? []), (want as { ok: Buffer }).ok)).toBe(0);
    }
  });

  it('invalid UTF-8 fails with PLUGHOST_INVALID_ARGUMENT, like the native plugin', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const bad = [
      [0xff],
      [0x61, 0x62, 0x80],
      [0x61, 0xc3],
      [0xc0, 0xaf], // overlong
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0x68, 0x69, 0x20, 0xe2, 0x82, 0x41], // truncated sequence
    ].map((b) => Buffer.from(b));
    for (const input of bad) {
      const want = nativeStats(input) as { code: string; message: string };
      expect(want.code).toBe('PLUGHOST_INVALID_ARGUMENT');
      const got = await unary<WireResult>(plugin, 'Call', { method: 'statsBytes', payload: input });
      expect(got.error).toMatchObject({ code: 'PLUGHOST_INVALID_ARGUMENT', message: want.message });
    }
  });

  it('an unknown method fails with PLUGHOST_UNKNOWN_METHOD (Call, Batch, Channel)', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const got = await unary<WireResult>(plugin, 'Call', { method: 'nope', payload: bytes('x') });
    expect(got.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    // A STREAM method is not callable as UNARY.
    const stream = await unary<WireResult>(plugin, 'Call', { method: 'upper', payload: bytes('x') });
    expect(stream.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    const batch = await unary<WireBatchResponse>(plugin, 'Batch', { method: 'nope', payloads: [bytes('a'), bytes('b')] });
    expect(batch.results?.map((r) => r.error?.code)).toEqual(['PLUGHOST_UNKNOWN_METHOD', 'PLUGHOST_UNKNOWN_METHOD']);

    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'nope', payload: bytes('x') } });
    ch.write({ id: 2, open: { method: 'echo' } }); // not a STREAM method
    expect((await ch.result(1)).error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    const end = await ch.until(2, (fs) => fs.some((f) => f.kind === 'end'));
    expect(end.at(-1)?.end?.error?.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    // Configure is not served without a configure function.
    await expect(unary(plugin, 'Configure', { config: bytes('{}') })).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
  });

  it('Batch returns one result per payload, in order; a bad item fails alone', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const payloads = [bytes('one two two'), Buffer.from([0xff]), bytes(''), bytes('Über über')];
    const res = await unary<WireBatchResponse>(plugin, 'Batch', { method: 'statsBytes', payloads });
    expect(res.results).toHaveLength(4);
    res.results!.forEach((r, i) => {
      const want = nativeStats(payloads[i]!);
      if ('ok' in want) expect(text(r.payload)).toBe(want.ok.toString('utf8'));
      else expect(r.error).toMatchObject({ code: want.code, message: want.message });
    });
    // No batch handler: each payload through the unary method.
    const echoed = await unary<WireBatchResponse>(plugin, 'Batch', { method: 'echo', payloads: [bytes('a'), bytes(''), bytes('c')] });
    expect(echoed.results!.map((r) => text(r.payload))).toEqual(['a', '', 'c']);
    expect(echoed.results!.every((r) => !r.error)).toBe(true);
    const empty = await unary<WireBatchResponse>(plugin, 'Batch', { method: 'statsBytes', payloads: [] });
    expect(empty.results ?? []).toEqual([]);
  });

  it('Channel: 500 concurrent calls and a batch, matched by id', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin);
    const inputs = Array.from({ length: 500 }, (_, i) => (i % 5 === 4 ? Buffer.from([0x61, 0xff]) : randomUtf8(20 + (i % 97), 1000 + i)));
    const t0 = performance.now();
    inputs.forEach((payload, i) => ch.write({ id: i + 1, call: { method: i % 3 === 0 ? 'echo' : 'statsBytes', payload } }));
    ch.write({ id: 9999, batch: { method: 'statsBytes', payloads: inputs.slice(0, 10) } });
    const results = await Promise.all(inputs.map((_, i) => ch.result(i + 1)));
    const batch = (await ch.result(9999)) as WireBatchResponse;
    const elapsed = performance.now() - t0;
    console.log(`textstats-py: 500 concurrent Channel calls in ${elapsed.toFixed(0)} ms`);
    results.forEach((r, i) => {
      const input = inputs[i]!;
      if (i % 3 === 0) {
        expect(r.error ?? null).toBeNull();
        expect(Buffer.compare(Buffer.from(r.payload ?? []), input)).toBe(0);
        return;
      }
      const want = nativeStats(input);
      if ('ok' in want) expect(text(r.payload)).toBe(want.ok.toString('utf8'));
      else expect(r.error).toMatchObject({ code: want.code, message: want.message });
    });
    expect(batch.results).toHaveLength(10);
    batch.results!.forEach((r, i) => {
      const want = nativeStats(inputs[i]!);
      if ('ok' in want) expect(text(r.payload)).toBe(want.ok.toString('utf8'));
      else expect(r.error?.code).toBe(want.code);
    });
    // One frame per call, nothing for ids nobody opened; unknown ids are ignored.
    expect([...ch.frames.values()].every((fs) => fs.length === 1)).toBe(true);
    ch.write({ id: 123456, data: bytes('for nobody') });
    ch.write({ id: 123457, end: {} });
    ch.write({ id: 123458, cancel: { reason: 'x' } });
    ch.write({ id: 4242, call: { method: 'echo', payload: bytes('still alive') } });
    expect(text((await ch.result(4242)).payload)).toBe('still alive');
    expect(ch.frames.has(123456) || ch.frames.has(123457) || ch.frames.has(123458)).toBe(false);

    // Round trip, one call at a time.
    const n = 300;
    const t1 = performance.now();
    for (let i = 0; i < n; i++) {
      ch.write({ id: 20_000 + i, call: { method: 'echo', payload: bytes('ping') } });
      await ch.result(20_000 + i);
    }
    console.log(`textstats-py: sequential Channel round trip ${(((performance.now() - t1) / n) * 1000).toFixed(0)} µs`);

    // Half-close: the plugin ends the stream once its calls are done.
    ch.stream.end();
    await new Promise<void>((resolve) => (ch.ended ? resolve() : ch.stream.on('end', () => resolve())));
    expect(ch.error).toBeUndefined();
  });

  it('STREAM upper: ASCII-uppercases each message, ends when the host ends', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin);
    ch.write({ id: 7, open: { method: 'upper' } });
    const messages = ['hello', 'Grüße, café!', '', 'mixed CASE 123 ÿ'];
    for (const m of messages) ch.write({ id: 7, data: bytes(m) });
    const seen = await ch.until(7, (fs) => fs.filter((f) => f.kind === 'data').length === messages.length);
    expect(seen.map((f) => text(f.data ?? undefined))).toEqual(['HELLO', 'GRüßE, CAFé!', '', 'MIXED CASE 123 ÿ']);
    expect(seen.some((f) => f.kind === 'end')).toBe(false);
    ch.write({ id: 7, end: {} });
    const all = await ch.until(7, (fs) => fs.some((f) => f.kind === 'end'));
    expect(all.at(-1)?.end?.error ?? null).toBeNull();
    // Two streams at once on the same channel do not mix.
    ch.write({ id: 8, open: { method: 'upper' } });
    ch.write({ id: 9, open: { method: 'upper' } });
    for (let i = 0; i < 20; i++) {
      ch.write({ id: 8, data: bytes(`a${i}`) });
      ch.write({ id: 9, data: bytes(`b${i}`) });
    }
    ch.write({ id: 8, end: {} });
    ch.write({ id: 9, end: {} });
    const s8 = await ch.until(8, (fs) => fs.some((f) => f.kind === 'end'));
    const s9 = await ch.until(9, (fs) => fs.some((f) => f.kind === 'end'));
    expect(s8.filter((f) => f.kind === 'data').map((f) => text(f.data ?? undefined))).toEqual(Array.from({ length: 20 }, (_, i) => `A${i}`));
    expect(s9.filter((f) => f.kind === 'data').map((f) => text(f.data ?? undefined))).toEqual(Array.from({ length: 20 }, (_, i) => `B${i}`));
  });

  it('a wrong or missing cookie exits 1 before the handshake, with a message on stderr', async () => {
    for (const cookie of [{ key: PLUGHOST_COOKIE.key, value: 'wrong' }, null]) {
      const { child } = spawnPlugin(textstatsPy, { cookie });
      const { stderr, exited } = collect(child);
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      const status = await waitForExit({ exited }, 10_000);
      expect(status.code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr()).toContain(PLUGHOST_COOKIE.key);
    }
  });

  it('no common app protocol version exits 1; the highest common one is chosen', async () => {
    const { child } = spawnPlugin(textstatsPy, { versions: '2,3' });
    const { stderr, exited } = collect(child);
    expect((await waitForExit({ exited }, 10_000)).code).toBe(1);
    expect(stderr()).toContain('PLUGIN_PROTOCOL_VERSIONS');
    const edge = await start(edgePy, { versions: '3, 2,1' });
    expect(edge.fields[1]).toBe('2');
    const old = await start(edgePy, { versions: '1' });
    expect(old.fields[1]).toBe('1');
  });

  it('Shutdown: answers, then exits 0', async () => {
    const p = await start(textstatsPy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin); // an open Channel does not hold the exit up
    ch.write({ id: 1, call: { method: 'echo', payload: bytes('x') } });
    await ch.result(1);
    const controller = client(ControllerClient, p.target);
    await unary(controller, 'Shutdown', {}).catch((err: grpc.ServiceError) => expect(err.code).toBe(grpc.status.UNAVAILABLE));
    const status = await waitForExit(p, 3000);
    expect(status).toEqual({ code: 0, signal: null });
  });

  it('exits when stdin is closed', async () => {
    const p = await start(textstatsPy);
    p.child.stdin.end();
    expect(await waitForExit(p, 3000)).toEqual({ code: 0, signal: null });
  });

  it('does not take EOF on a stdin that is not a pipe (e.g. /dev/null) for the host going away', async () => {
    const p = await start(textstatsPy, { stdin: 'ignore' });
    // A twin on a pipe whose stdin is closed once it is up: when it has exited on that EOF, a
    // watcher of /dev/null (EOF at once, started earlier) would have ended this one too.
    const twin = await start(textstatsPy);
    twin.child.stdin.end();
    expect(await waitForExit(twin, 3000)).toEqual({ code: 0, signal: null });
    expect(p.child.exitCode).toBeNull();
    const health = client(HealthClient, p.target);
    expect(await unary<{ status: number }>(health, 'Check', { service: 'plugin' })).toMatchObject({ status: SERVING_STATUS.SERVING });
  });

  it('exits when the parent process is gone (re-parented, or a watched pid that exits)', async () => {
    // Started through a shell that exits: the plugin is re-parented.
    const script =
      `exec 3<&0; PLUGHOST_PARENT_PID=$$ "$0" "$1" <&3 3<&- & echo $! >&2; exec sleep 60`;
    const viaShell = spawnPlugin(textstatsPy, { command: ['/bin/sh', '-c', script, python, textstatsPy] });
    const { stderr } = collect(viaShell.child);
    const line = await new Promise<string>((resolve) => readline.createInterface({ input: viaShell.child.stdout }).once('line', resolve));
    expect(line).toMatch(/^1\|1\|unix\|/);
    const pid = Number(stderr().split('\n')[0]);
    expect(pid).toBeGreaterThan(1);
    viaShell.child.kill('SIGKILL'); // the shell, now `sleep`, goes away once the plugin is up
    await waitForPidGone(pid, 4000);

    // A PLUGHOST_PARENT_PID that is not our parent: watched as a pid.
    const sleeper = spawn('sleep', ['60']);
    const p = await start(textstatsPy, { env: { [ENV.parentPid]: String(sleeper.pid) } });
    sleeper.kill('SIGKILL'); // the watched pid goes away once the plugin is up
    expect(await waitForExit(p, 4000)).toEqual({ code: 0, signal: null });
  });
});

async function waitForPidGone(pid: number, ms: number): Promise<void> {
  const gone = (): boolean => {
    try {
      process.kill(pid, 0);
      // A zombie nobody reaped yet has exited too.
      return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };
  try {
    await waitFor(gone, { timeoutMs: ms, what: `pid ${pid} to exit`, intervalMs: 20 });
  } catch (err) {
    process.kill(pid, 'SIGKILL');
    throw err;
  }
}

describe('Python SDK: edge cases (test/fixtures/dynamic/python/edge_plugin.py)', () => {
  it('cancel sets ctx.cancelled and nothing more is sent for the id; the id can be reused', async () => {
    const p = await start(edgePy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'sleep', payload: bytes('5000') } });
    ch.write({ id: 2, call: { method: 'sleep', payload: bytes('10') } });
    expect(text((await ch.result(2)).payload)).toBe('slept'); // a slow call does not hold others up
    ch.write({ id: 1, cancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } });
    // The id is free again at once.
    ch.write({ id: 1, call: { method: 'sleep', payload: bytes('200') } });
    // Until the reused call's own result, 200 ms on: a result of the cancelled call would have come
    // before it. Then a later reply on the channel, so that nothing more is on its way either.
    const reused = await ch.until(1, (fs) => fs.some((f) => text(f.result?.payload) === 'slept'));
    ch.write({ id: 4, call: { method: 'config', payload: bytes('') } });
    await ch.result(4);
    expect(reused.map((f) => text(f.result?.payload))).toEqual(['slept']);
    ch.write({ id: 3, call: { method: 'cancelled', payload: bytes('') } });
    expect(text((await ch.result(3)).payload)).toBe('1');

    // A stream: cancelled mid-flight, at most a frame already in flight arrives after.
    ch.write({ id: 5, open: { method: 'forever' } });
    await ch.until(5, (fs) => fs.length >= 2);
    ch.write({ id: 5, cancel: { reason: 'PLUGHOST_CALL_ABORTED' } });
    const atCancel = ch.frames.get(5)!.length;
    // Until the stream's handler has seen the cancel (two calls have now), then a later reply on the channel.
    await waitFor(async () => text((await unary<WireResult>(plugin, 'Call', { method: 'cancelled', payload: bytes('') })).payload) === '2', {
      what: 'the forever stream to see its cancel',
    });
    ch.write({ id: 7, call: { method: 'config', payload: bytes('') } });
    await ch.result(7);
    const after = ch.frames.get(5)!;
    expect(after.length - atCancel).toBeLessThanOrEqual(1);
    expect(after.every((f) => f.kind === 'data')).toBe(true);
    ch.write({ id: 6, call: { method: 'cancelled', payload: bytes('') } });
    expect(text((await ch.result(6)).payload)).toBe('2');
  });

  it('ending the Channel (half-close) is the end of every call on it', async () => {
    const p = await start(edgePy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'sleep', payload: bytes('5000') } });
    ch.write({ id: 2, call: { method: 'sleep', payload: bytes('0') } });
    await ch.result(2);
    const t0 = performance.now();
    ch.stream.end();
    await new Promise<void>((resolve) => (ch.ended ? resolve() : ch.stream.on('end', () => resolve())));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(ch.frames.has(1)).toBe(false);
    const other = openChannel(plugin);
    other.write({ id: 1, call: { method: 'cancelled', payload: bytes('') } });
    expect(text((await other.result(1)).payload)).toBe('1');
  });

  it('cancelling the whole Channel RPC cancels its calls', async () => {
    const p = await start(edgePy);
    const plugin = client(PluginClient, p.target);
    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'sleep', payload: bytes('5000') } });
    ch.write({ id: 2, open: { method: 'forever' } });
    await ch.until(2, (fs) => fs.length >= 1);
    ch.stream.cancel();
    await waitFor(async () => text((await unary<WireResult>(plugin, 'Call', { method: 'cancelled', payload: bytes('') })).payload) === '2', {
      what: 'both calls of the cancelled Channel to see the cancel',
    });
    const other = openChannel(plugin);
    other.write({ id: 1, call: { method: 'cancelled', payload: bytes('') } });
    expect(text((await other.result(1)).payload)).toBe('2');
  });

  it('exceptions become errors with codes; the plugin keeps running', async () => {
    const p = await start(edgePy);
    const plugin = client(PluginClient, p.target);
    const call = (method: string, payload = '') => unary<WireResult>(plugin, 'Call', { method, payload: bytes(payload) });
    expect((await call('boom')).error).toEqual({ code: 'PLUGHOST_PLUGIN_EXCEPTION', message: 'ValueError: boom' });
    expect((await call('coded')).error).toMatchObject({ code: 'E_CUSTOM', message: 'CodedError: has its own code' });
    expect((await call('notbytes')).error?.code).toBe('PLUGHOST_PLUGIN_EXCEPTION');
    expect(text((await call('sleep', '0')).payload)).toBe('slept');
    // Unexpected exceptions are logged as hclog JSON with the traceback.
    const logged = p.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>);
    expect(logged.find((e) => e['@message'] === 'method raised' && e.method === 'boom')).toMatchObject({ '@level': 'error' });
  });

  it('results over PLUGHOST_MAX_MESSAGE_BYTES fail with PLUGHOST_MESSAGE_TOO_LARGE instead of breaking the stream', async () => {
    const max = 64 * 1024;
    const p = await start(edgePy, { maxMessageBytes: max });
    const plugin = client(PluginClient, p.target);
    const ok = await unary<WireResult>(plugin, 'Call', { method: 'big', payload: bytes(String(max - 100)) });
    expect(ok.payload?.length).toBe(max - 100);
    const tooBig = await unary<WireResult>(plugin, 'Call', { method: 'big', payload: bytes(String(max)) });
    expect(tooBig.error?.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');

    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'big', payload: bytes(String(max)) } });
    ch.write({ id: 2, batch: { method: 'big', payloads: [bytes('10'), bytes(String(max / 2)), bytes(String(max / 2)), bytes('20')] } });
    ch.write({ id: 3, call: { method: 'big', payload: bytes('5') } });
    expect((await ch.result(1)).error?.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    const batch = (await ch.result(2)) as WireBatchResponse;
    const shape = batch.results!.map((r) => (r.error ? r.error.code : r.payload?.length));
    expect(shape).toEqual([10, 'PLUGHOST_MESSAGE_TOO_LARGE', max / 2, 20]);
    expect(text((await ch.result(3)).payload)).toBe('xxxxx');
    // An exception with a huge message: cut short, so the error still fits.
    ch.write({ id: 4, call: { method: 'hugeerror', payload: bytes(String(max * 2)) } });
    const huge = (await ch.result(4)).error!;
    expect(huge.code).toBe('PLUGHOST_PLUGIN_EXCEPTION');
    expect(huge.message!.length).toBeLessThan(max / 8);
    expect(huge.message).toMatch(/^ValueError: e+…$/);
    expect(ch.error).toBeUndefined();
  });

  it('whole-batch handlers, per-item batch errors, streams that fail, Configure', async () => {
    const p = await start(edgePy);
    const plugin = client(PluginClient, p.target);
    const described = await unary<WireDescribeResponse>(plugin, 'Describe', { protocolVersion: 1 });
    expect(described.capabilities).toEqual(['channel', 'batch', 'configure']);
    expect(described.methods?.find((m) => m.name === 'rev')?.kind ?? 0).toBe(METHOD_KIND.UNARY);
    expect(described.methods?.find((m) => m.name === 'count')?.kind).toBe(METHOD_KIND.STREAM);

    // A single call runs the method; a batch runs its whole-batch handler.
    expect(text((await unary<WireResult>(plugin, 'Call', { method: 'rev', payload: bytes('bad') })).payload)).toBe('dab');
    const batch = await unary<WireBatchResponse>(plugin, 'Batch', { method: 'rev', payloads: [bytes('ab'), bytes('bad'), bytes('xy')] });
    expect(batch.results!.map((r) => r.error?.code ?? text(r.payload))).toEqual(['ba', 'E_BAD', 'yx']);

    const ch = openChannel(plugin);
    ch.write({ id: 1, open: { method: 'count' } });
    ch.write({ id: 1, data: bytes('3') });
    ch.write({ id: 1, data: bytes('2') });
    ch.write({ id: 1, end: {} });
    const counted = await ch.until(1, (fs) => fs.some((f) => f.kind === 'end'));
    expect(counted.map((f) => (f.kind === 'data' ? text(f.data ?? undefined) : f.kind))).toEqual(['0', '1', '2', '0', '1', 'done', 'end']);
    ch.write({ id: 2, open: { method: 'fail' } });
    const failed = await ch.until(2, (fs) => fs.some((f) => f.kind === 'end'));
    expect(failed.map((f) => f.kind)).toEqual(['data', 'end']);
    expect(failed[1]!.end?.error).toEqual({ code: 'E_STREAM', message: 'stream failed' });

    const rejected = await unary<{ error?: { code: string } }>(plugin, 'Configure', { config: bytes('[1]') });
    expect(rejected.error?.code).toBe('E_CONFIG');
    const accepted = await unary<{ error?: unknown }>(plugin, 'Configure', { config: bytes('{"level":2}') });
    expect(accepted.error ?? null).toBeNull();
    expect(text((await unary<WireResult>(plugin, 'Call', { method: 'config', payload: bytes('') })).payload)).toBe('{"level":2}');
  });
});

describe('the SDK\'s hand-written protobuf codec', () => {
  const wireTests = path.join(repoRoot, 'plugins-dynamic/python/tests');

  it('passes its Python unit tests (varints, unknown fields, malformed input)', () => {
    const out = execFileSync(python, [path.join(wireTests, 'test_wire.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    expect(out.trim()).toBe('OK');
  });

  it('agrees with protobufjs (the host\'s codec) both ways', () => {
    const root = protobuf.Root.fromJSON(PROTOCOL_DESCRIPTOR as unknown as protobuf.INamespace);
    const type = (name: string) => root.lookupType(name);
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const h = (b: Uint8Array) => ({ hex: hex(b) });
    const payloads = [Buffer.alloc(0), bytes('x'), bytes('héllo 🎉'), randomBytes(127), randomBytes(128), randomBytes(70_000)];
    const ids = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 - 1];

    // Host -> plugin: protobufjs encodes, the SDK decodes.
    const decodeCases: Array<{ type: string; message: object; want: unknown }> = [];
    for (const [i, id] of ids.entries()) {
      const payload = payloads[i % payloads.length]!;
      decodeCases.push(
        { type: 'Frame', message: { id, call: { method: 'statsBytes', payload } }, want: [id, 2, 'statsBytes', h(payload)] },
        { type: 'Frame', message: { id, batch: { method: 'm', payloads: [payload, Buffer.alloc(0), bytes('z')] } }, want: [id, 4, 'm', [h(payload), h(Buffer.alloc(0)), h(bytes('z'))]] },
        { type: 'Frame', message: { id, open: { method: 'upper' } }, want: [id, 6, 'upper', null] },
        { type: 'Frame', message: { id, data: payload }, want: [id, 7, h(payload), null] },
        { type: 'Frame', message: { id, end: {} }, want: [id, 8, null, null] },
        { type: 'Frame', message: { id, cancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } }, want: [id, 9, null, null] },
      );
    }
    decodeCases.push(
      { type: 'Frame', message: { id: 5, call: { method: 'ümlaut', payload: Buffer.alloc(0) } }, want: [5, 2, 'ümlaut', h(Buffer.alloc(0))] },
      { type: 'Frame', message: { id: 5 }, want: [5, 0, null, null] },
      { type: 'Frame', message: { id: 5, result: { payload: bytes('x') } }, want: [5, 0, null, null] },
      { type: 'CallRequest', message: { method: 'echo', payload: payloads[5] }, want: ['echo', h(payloads[5]!)] },
      { type: 'BatchRequest', message: { method: 'echo', payloads: [] }, want: ['echo', []] },
      { type: 'DescribeRequest', message: { protocolVersion: 1 }, want: 1 },
      { type: 'DescribeRequest', message: {}, want: 0 },
      { type: 'ConfigureRequest', message: { config: bytes('{"a":1}') }, want: h(bytes('{"a":1}')) },
      { type: 'HealthCheckRequest', message: { service: 'plugin' }, want: 'plugin' },
    );
    const qualified = (t: string) => (t === 'HealthCheckRequest' ? 'grpc.health.v1.' : 'plughost.v1.') + t;

    // Plugin -> host: the SDK encodes, protobufjs decodes. `want` is the
    // message as protobufjs should see it; it is also encoded by protobufjs to
    // compare bytes (proto3 defaults left out, as the SDK leaves them out).
    const encodeCases: Array<{ fn: string; args: unknown[]; type: string; want: Record<string, unknown> }> = [];
    for (const [i, id] of ids.entries()) {
      const payload = payloads[i % payloads.length]!;
      const idField = id === 0 ? {} : { id };
      encodeCases.push(
        { fn: 'encode_frame_result', args: [id, h(payload), null], type: 'Frame', want: { ...idField, result: payload.length ? { payload } : {} } },
        { fn: 'encode_frame_result', args: [id, h(Buffer.alloc(0)), ['E_X', 'went wrong: é']], type: 'Frame', want: { ...idField, result: { error: { code: 'E_X', message: 'went wrong: é' } } } },
        { fn: 'encode_frame_data', args: [id, h(payload)], type: 'Frame', want: { ...idField, data: payload } },
        { fn: 'encode_frame_end', args: [id, null], type: 'Frame', want: { ...idField, end: {} } },
        { fn: 'encode_frame_end', args: [id, ['E_S', '']], type: 'Frame', want: { ...idField, end: { error: { code: 'E_S' } } } },
      );
    }
    const r1 = bytes('one');
    encodeCases.push(
      {
        fn: 'encode_frame_batch_result',
        args: [9, [{ hex: '0a036f6e65' }, { hex: '' }, { hex: '12050a03455f42' }]],
        type: 'Frame',
        want: { id: 9, batchResult: { results: [{ payload: r1 }, {}, { error: { code: 'E_B' } }] } },
      },
      { fn: 'encode_result', args: [h(r1), null], type: 'Result', want: { payload: r1 } },
      {
        fn: 'encode_describe_response',
        args: ['textstats-py', '1.0.0', [['echo', 0], ['upper', 1]], ['channel', 'batch'], 1],
        type: 'DescribeResponse',
        want: { name: 'textstats-py', version: '1.0.0', methods: [{ name: 'echo' }, { name: 'upper', kind: 1 }], capabilities: ['channel', 'batch'], protocolVersion: 1 },
      },
      { fn: 'encode_configure_response', args: [null], type: 'ConfigureResponse', want: {} },
      { fn: 'encode_configure_response', args: [['E_CONFIG', 'no']], type: 'ConfigureResponse', want: { error: { code: 'E_CONFIG', message: 'no' } } },
      { fn: 'encode_health_check_response', args: [1], type: 'HealthCheckResponse', want: { status: 1 } },
    );
    const encodeType = (t: string) => (t === 'HealthCheckResponse' ? 'grpc.health.v1.' : 'plughost.v1.') + t;

    const input = JSON.stringify({
      decode: decodeCases.map((c) => ({ type: c.type, hex: hex(type(qualified(c.type)).encode(c.message).finish()) })),
      encode: encodeCases.map((c) => ({ fn: c.fn, args: c.args })),
    });
    const out = JSON.parse(
      execFileSync(python, [path.join(wireTests, 'wire_cases.py')], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }),
    ) as { decoded: unknown[]; encoded: string[] };

    decodeCases.forEach((c, i) => expect(out.decoded[i], `decode ${c.type} ${JSON.stringify(c.message).slice(0, 80)}`).toEqual(c.want));
    encodeCases.forEach((c, i) => {
      const t = type(encodeType(c.type));
      const got = Buffer.from(out.encoded[i]!, 'hex');
      const label = `${c.fn}(${JSON.stringify(c.args).slice(0, 80)})`;
      expect(t.toObject(t.decode(got), { defaults: false }), label).toEqual(t.toObject(t.fromObject(c.want), { defaults: false }));
      expect(got.toString('hex'), label).toBe(hex(t.encode(t.fromObject(c.want)).finish()));
    });
  });
});

describe('go-plugin-style Python fixture (kv_plugin.py)', () => {
  it('handshakes with the trailing "|", logs hclog JSON, serves kv.KV via a proto-loader client', async () => {
    const p = await start(kvPy, { cookie: { key: 'KV_PLUGIN', value: 'hello' } });
    expect(p.line).toMatch(/^1\|1\|unix\|\/.+\|grpc\|$/);
    expect(p.fields).toHaveLength(6);
    expect(p.fields[5]).toBe('');
    expect(path.basename(p.fields[3]!)).toMatch(/^plugin\d+$/);

    const ready = await waitFor(
      () =>
        p
          .stderr()
          .split('\n')
          .filter((l) => l.startsWith('{') && l.endsWith('}'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((e) => e['@message'] === 'kv ready'),
      { what: 'the "kv ready" hclog line on stderr' },
    );
    expect(ready).toMatchObject({ '@level': 'info', '@message': 'kv ready', keys: 0 });
    expect(String(ready!['@timestamp'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);

    const health = client(HealthClient, p.target);
    expect(await unary<{ status: number }>(health, 'Check', { service: 'plugin' })).toMatchObject({ status: SERVING_STATUS.SERVING });
    // No plughost.v1.Plugin here.
    await expect(unary(client(PluginClient, p.target), 'Describe', { protocolVersion: 1 })).rejects.toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
    });

    const definition = protoLoader.loadSync(path.join(fixtures, 'kv.proto'), { keepCase: true, defaults: true });
    const kvPackage = grpc.loadPackageDefinition(definition) as unknown as { kv: { KV: grpc.ServiceClientConstructor } };
    const kv = client(kvPackage.kv.KV, p.target);
    const value = randomBytes(32);
    await unary(kv, 'Put', { key: 'greeting', value });
    const got = await unary<{ value: Buffer }>(kv, 'Get', { key: 'greeting' });
    expect(Buffer.compare(got.value, value)).toBe(0);
    await expect(unary(kv, 'Get', { key: 'missing' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

    const controller = client(ControllerClient, p.target);
    await unary(controller, 'Shutdown', {}).catch((err: grpc.ServiceError) => expect(err.code).toBe(grpc.status.UNAVAILABLE));
    expect((await waitForExit(p, 3000)).code).toBe(0);
  });

  it('refuses to run without its cookie', async () => {
    const { child } = spawnPlugin(kvPy, { cookie: null });
    const { stderr, exited } = collect(child);
    expect((await waitForExit({ exited }, 10_000)).code).toBe(1);
    expect(stderr()).toContain('This binary is a plugin');
  });
});
