// The Python SDK (plugins-dynamic/python) in server mode (PLUGHOST_LISTEN),
// with AutoMTLS, and making host calls: real subprocesses on real sockets,
// real TLS with certificates this test makes, driven by raw grpc-js clients
// that play the host (no host code), then a few round trips with the real host.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import crypto, { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, type Host } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { certificateFromHandshake, oneTimeIdentity } from '../../src/protocol/certificates.js';
import { PROTOCOL_DESCRIPTOR } from '../../src/protocol/descriptor.js';
import { ENV, LISTENING_PREFIX, PLUGHOST_COOKIE, SERVER_ENV } from '../../src/protocol/handshake.js';
import {
  ControllerService,
  HealthService,
  PluginService,
  SERVING_STATUS,
  type WireDescribeResponse,
  type WireFrame,
  type WireResult,
} from '../../src/protocol/services.js';
import { TestCa, writePem, type Files } from '../support/pki.js';
import { waitFor } from '../support/wait-for.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const sdkDir = path.join(repoRoot, 'plugins-dynamic/python');

const PluginClient = grpc.makeGenericClientConstructor(PluginService, 'Plugin');
const HealthClient = grpc.makeGenericClientConstructor(HealthService, 'Health');
const ControllerClient = grpc.makeGenericClientConstructor(ControllerService, 'GRPCController');
type AnyClient = grpc.Client & Record<string, any>;
type Frame = WireFrame & { kind?: string };

// A plugin that calls the host from its methods (and from a thread of its own).
const PLUGIN = String.raw`
import json, os, sys, threading
sys.path.insert(0, os.environ["SDK_DIR"])
from plughost_plugin import PluginError, host, serve

outcomes = {}
lock = threading.Lock()

def ask(payload, ctx):
    """{"service", "payload" | "size", "timeout_ms"?, "tag"?} -> the host call's outcome as JSON."""
    req = json.loads(payload)
    data = b"x" * req["size"] if "size" in req else req.get("payload", "")
    try:
        outcome = {"ok": ctx.host.call(req["service"], data, timeout_ms=req.get("timeout_ms")).decode()}
    except PluginError as e:
        outcome = {"code": e.code, "message": e.message}
    with lock:
        outcomes[req.get("tag", "")] = outcome
    return json.dumps(outcome).encode()

def outcome(payload, ctx):
    with lock:
        return json.dumps(outcomes.get(payload.decode())).encode()

def services(payload, ctx):
    return json.dumps(ctx.host.services).encode()

def background(payload, ctx):
    # Outside any method: plughost_plugin.host, over the newest open Channel.
    def later():
        try:
            answer = host.call("kv", b"from a thread")
        except PluginError as e:
            answer = e.code.encode()
        host.call("kv", b"the thread got " + answer)
    threading.Thread(target=later, daemon=True).start()
    return b"started"

serve(name="remote-py", version="2.0.0",
      methods={"echo": lambda p, ctx: p, "ask": ask, "outcome": outcome, "services": services, "background": background},
      idempotent=["echo", "outcome"], configure=lambda raw: None)
`;

let python: string;
let dir: string;
let script: string;
let ca: TestCa;
let caFile: string;
let serverFiles: Files;
let clientPem: { cert: string; key: string };
let strangerPem: { cert: string; key: string };

beforeAll(() => {
  python = pythonWithGrpc();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-pyserver-'));
  script = path.join(dir, 'remote_plugin.py');
  fs.writeFileSync(script, PLUGIN);
  ca = new TestCa('python server-mode CA');
  caFile = ca.writeCa(dir);
  serverFiles = writePem(dir, 'server', ca.issue('python plugin', { dns: ['localhost'], ip: ['127.0.0.1'] }));
  clientPem = ca.issue('a host');
  strangerPem = new TestCa('another CA').issue('a host');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const children: ChildProcessWithoutNullStreams[] = [];
const clients: grpc.Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the plugin with only the given plughost variables (none of the test process's). */
function spawnPlugin(env: Record<string, string>): Proc {
  const base: Record<string, string> = { ...(process.env as Record<string, string>), SDK_DIR: sdkDir };
  for (const name of [PLUGHOST_COOKIE.key, ...Object.values(ENV), ...Object.values(SERVER_ENV)]) delete base[name];
  const child = spawn(python, [script], { env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the first stdout line; rejects if the plugin exits first. */
function firstLine(p: Proc): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no first line within 10 s; stderr: ${p.stderr()}`)), 10_000);
    readline.createInterface({ input: p.child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    void p.exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`plugin exited first (${JSON.stringify(status)}); stderr: ${p.stderr()}`));
    });
  });
}

interface Server extends Proc {
  address: string;
  mode: string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const p = spawnPlugin(env);
  const line = await firstLine(p);
  const match = new RegExp(`^${LISTENING_PREFIX} (\\S+) (tls|plaintext)$`).exec(line);
  expect(match, line).not.toBeNull();
  return { ...p, address: match![1]!, mode: match![2]! };
}

const mtlsEnv = (listen = '127.0.0.1:0'): Record<string, string> => ({
  [SERVER_ENV.listen]: listen,
  [SERVER_ENV.tlsCert]: serverFiles.cert,
  [SERVER_ENV.tlsKey]: serverFiles.key,
  [SERVER_ENV.tlsClientCa]: caFile,
});

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what()} within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function waitForExit(p: Proc, ms = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return within(p.exited, ms, () => `did not exit; stderr: ${p.stderr()}`);
}

const clientTls = (pem?: { cert: string; key: string }, trust = ca.pem.cert): grpc.ChannelCredentials =>
  grpc.credentials.createSsl(Buffer.from(trust), pem ? Buffer.from(pem.key) : null, pem ? Buffer.from(pem.cert) : null);

/** The server's certificate names localhost too: checked by name, not by IP (no SNI with an IP address). */
const byName: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': 'localhost' };

function client<T extends grpc.ServiceClientConstructor>(ctor: T, target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = byName): AnyClient {
  const c = new ctor(target, credentials, options) as unknown as AnyClient;
  clients.push(c);
  return c;
}

function unary<T>(c: AnyClient, method: string, request: object, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    c[method](request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString('utf8');
const json = (r: WireResult): any => JSON.parse(text(r.payload));

/** A Channel as the host drives it: every frame the plugin sends, in order, and waits on them. */
function openChannel(c: AnyClient) {
  const stream = c.Channel() as grpc.ClientDuplexStream<WireFrame, Frame>;
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  stream.on('data', (frame: Frame) => {
    frames.push(frame);
    for (const wake of [...waiters]) wake();
  });
  stream.on('error', () => {}); // CANCELLED when a test cancels it
  stream.on('end', () => {
    ended = true;
    for (const wake of [...waiters]) wake();
  });
  /** The first frame (from index `from`) that `match` accepts. */
  const frame = (match: (f: Frame) => boolean, what: string, from = 0, ms = 10_000): Promise<Frame> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = frames.slice(from).find(match);
        if (found === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(frames.map((f) => f.kind))}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    stream,
    frames,
    get ended() {
      return ended;
    },
    write: (f: WireFrame) => stream.write(f),
    frame,
    /** The result of the host's call `id` (ids of the host's calls, not of host_* frames). */
    result: async (id: number): Promise<WireResult> => (await frame((f) => f.kind === 'result' && f.id === id, `result ${id}`)).result!,
    /** The next host_call from index `from`. */
    hostCall: (from = 0): Promise<Frame> => frame((f) => f.kind === 'hostCall', 'host_call', from),
  };
}

// ---------------------------------------------------------------------------

describe('Python SDK server mode (PLUGHOST_LISTEN)', () => {
  it('serves Describe over mutual TLS with its idempotent methods; health SERVING; Shutdown refused', async () => {
    const s = await startServer(mtlsEnv());
    expect(s.mode).toBe('tls');
    expect(s.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number(s.address.split(':')[1])).toBeGreaterThan(0);

    const plugin = client(PluginClient, s.address, clientTls(clientPem));
    const described = await unary<WireDescribeResponse>(plugin, 'Describe', { protocolVersion: 1 });
    expect(described).toMatchObject({ name: 'remote-py', version: '2.0.0', protocolVersion: 1 });
    const idempotent = Object.fromEntries((described.methods ?? []).map((m) => [m.name, m.idempotent ?? false]));
    expect(idempotent).toEqual({ ask: false, background: false, echo: true, outcome: true, services: false });
    expect(text((await unary<WireResult>(plugin, 'Call', { method: 'echo', payload: bytes('over TLS') })).payload)).toBe('over TLS');

    const health = client(HealthClient, s.address, clientTls(clientPem));
    for (const service of ['', 'plugin']) expect(await unary(health, 'Check', { service })).toMatchObject({ status: SERVING_STATUS.SERVING });

    const controller = client(ControllerClient, s.address, clientTls(clientPem));
    const refused = await unary(controller, 'Shutdown', {}).catch((err: grpc.ServiceError) => err);
    expect(refused).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect((refused as grpc.ServiceError).details).toContain('SIGTERM');
    // Nor may one client reconfigure a server other hosts share.
    const configure = await unary(plugin, 'Configure', { config: bytes('{}') }).catch((err: grpc.ServiceError) => err);
    expect(configure).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    // Still serving.
    expect(text((await unary<WireResult>(plugin, 'Call', { method: 'echo', payload: bytes('still here') })).payload)).toBe('still here');
    expect(s.child.exitCode).toBeNull();
    // Nothing but the one line on stdout.
    expect(s.stdout()).toBe(`${LISTENING_PREFIX} ${s.address} tls\n`);
  });

  it('refuses a client certificate from another CA, a client without one, and plaintext', async () => {
    const s = await startServer(mtlsEnv());
    const attempts: Array<[string, grpc.ChannelCredentials]> = [
      ['a certificate from another CA', clientTls(strangerPem)],
      ['no client certificate', clientTls()],
      ['plaintext', grpc.credentials.createInsecure()],
    ];
    for (const [what, credentials] of attempts) {
      const err = await unary(client(PluginClient, s.address, credentials), 'Describe', { protocolVersion: 1 }, 5_000).catch((e: grpc.ServiceError) => e);
      expect(err, what).toBeInstanceOf(Error);
      expect((err as grpc.ServiceError).code, what).toBe(grpc.status.UNAVAILABLE);
    }
    // None of that hurt the server.
    expect(await unary(client(PluginClient, s.address, clientTls(clientPem)), 'Describe', { protocolVersion: 1 })).toMatchObject({ name: 'remote-py' });
  });

  it('TLS without a client CA takes clients without a certificate', async () => {
    const { [SERVER_ENV.tlsClientCa]: _, ...env } = mtlsEnv();
    const s = await startServer(env);
    expect(await unary(client(PluginClient, s.address, clientTls()), 'Describe', { protocolVersion: 1 })).toMatchObject({ name: 'remote-py' });
  });

  it('PLUGHOST_INSECURE=1 serves plaintext on loopback only; elsewhere, or without TLS, it exits 1 with one line', async () => {
    const s = await startServer({ [SERVER_ENV.listen]: '127.0.0.1:0', [SERVER_ENV.insecure]: '1' });
    expect(s.mode).toBe('plaintext');
    expect(await unary(client(PluginClient, s.address, grpc.credentials.createInsecure()), 'Describe', { protocolVersion: 1 })).toMatchObject({ name: 'remote-py' });

    const refusals: Array<[Record<string, string>, RegExp]> = [
      [{ [SERVER_ENV.listen]: '0.0.0.0:0', [SERVER_ENV.insecure]: '1' }, /PLUGHOST_INSECURE=1 .*loopback.*0\.0\.0\.0:0/],
      [{ [SERVER_ENV.listen]: '127.0.0.1:0' }, /no TLS configuration \(PLUGHOST_TLS_CERT and PLUGHOST_TLS_KEY not set\)/],
      [{ [SERVER_ENV.listen]: '127.0.0.1' }, /PLUGHOST_LISTEN: want host:port/],
      [{ ...mtlsEnv(), [SERVER_ENV.tlsKey]: writePem(dir, 'other', ca.issue('other')).key }, /is not the key of the certificate in PLUGHOST_TLS_CERT/],
      [{ ...mtlsEnv(), [SERVER_ENV.tlsClientCa]: path.join(dir, 'missing.pem') }, /cannot read PLUGHOST_TLS_CLIENT_CA/],
    ];
    for (const [env, message] of refusals) {
      const p = spawnPlugin(env);
      expect(await waitForExit(p, 10_000), JSON.stringify(env)).toEqual({ code: 1, signal: null });
      expect(p.stdout()).toBe('');
      const lines = p.stderr().trimEnd().split('\n');
      expect(lines, p.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^plugin "remote-py": server mode \(PLUGHOST_LISTEN\): /);
      expect(lines[0]).toMatch(message);
      expect(p.stderr()).not.toContain('Traceback');
    }
  });

  it('SIGTERM: a health watch sees NOT_SERVING, open streams end, exit 0; SIGINT too', async () => {
    const s = await startServer(mtlsEnv());
    const health = client(HealthClient, s.address, clientTls(clientPem));
    const watch = health.Watch({ service: 'plugin' }) as grpc.ClientReadableStream<{ status: number }>;
    const statuses: number[] = [];
    watch.on('data', (m: { status: number }) => statuses.push(m.status));
    // How the watch ends: its status (OK: the plugin ended it, not the connection dropping).
    const watchEnded = new Promise<number>((resolve) => {
      watch.on('status', (status: grpc.StatusObject) => resolve(status.code));
      watch.on('error', (err: grpc.ServiceError) => resolve(err.code));
    });
    await waitFor(() => statuses.length === 1, { what: 'the first health status' });
    expect(statuses).toEqual([SERVING_STATUS.SERVING]);
    const ch = openChannel(client(PluginClient, s.address, clientTls(clientPem)));
    await ch.frame((f) => f.kind === 'credit' && (f.id ?? 0) === 0, 'the flow-control hello');

    s.child.kill('SIGTERM');
    expect(await within(watchEnded, 10_000, () => `the health watch did not end (statuses ${JSON.stringify(statuses)}; stderr: ${s.stderr()})`)).toBe(grpc.status.OK);
    expect(statuses).toEqual([SERVING_STATUS.SERVING, SERVING_STATUS.NOT_SERVING]);
    expect(await waitForExit(s)).toEqual({ code: 0, signal: null });
    await waitFor(() => ch.ended, { what: 'the Channel to end' });

    const t = await startServer({ [SERVER_ENV.listen]: '[::1]:0', [SERVER_ENV.insecure]: '1' });
    expect(t.address).toMatch(/^\[::1\]:\d+$/);
    t.child.kill('SIGINT');
    expect(await waitForExit(t)).toEqual({ code: 0, signal: null });
  });
});

describe('Python SDK host calls (ctx.host), a raw client playing the host', () => {
  const MAX = 64 * 1024;
  async function described(): Promise<{ s: Server; plugin: AnyClient }> {
    const s = await startServer({ ...mtlsEnv(), [ENV.maxMessageBytes]: String(MAX) });
    const plugin = client(PluginClient, s.address, clientTls(clientPem));
    await unary(plugin, 'Describe', { protocolVersion: 1, hostServices: ['kv', 'log', 'kv'] });
    return { s, plugin };
  }
  const ask = (req: object): Buffer => bytes(JSON.stringify(req));

  it('sends host_call on the Channel and returns the host_result; errors keep their codes', async () => {
    const { plugin } = await described();
    expect(json(await unary<WireResult>(plugin, 'Call', { method: 'services', payload: bytes('') }))).toEqual(['kv', 'log']);
    const ch = openChannel(plugin);

    ch.write({ id: 1, call: { method: 'ask', payload: ask({ service: 'kv', payload: 'hello', timeout_ms: 5000 }) } });
    const first = await ch.hostCall();
    // The plugin's own id space: its first host call is 1 (not the host's call id 1 by chance: see below).
    expect(first).toMatchObject({ id: 1, hostCall: { service: 'kv', timeoutMs: 5000 } });
    expect(text(first.hostCall!.payload)).toBe('hello');
    ch.write({ id: first.id!, hostResult: { payload: bytes('world') } });
    expect(json(await ch.result(1))).toEqual({ ok: 'world' });

    // Host call ids count on from the plugin's own counter, whatever the host's call ids.
    const mark = ch.frames.length;
    ch.write({ id: 500, call: { method: 'ask', payload: ask({ service: 'log', payload: '' }) } });
    const second = await ch.hostCall(mark);
    expect(second.id).toBe(2);
    expect(second.hostCall?.timeoutMs ?? 0).toBe(0); // no timeout_ms: the host's default
    ch.write({ id: 2, hostResult: { error: { code: 'E_KV', message: 'no such key' } } });
    expect(json(await ch.result(500))).toEqual({ code: 'E_KV', message: 'no such key' });

    const mark3 = ch.frames.length;
    ch.write({ id: 501, call: { method: 'ask', payload: ask({ service: 'kv', payload: 'x' }) } });
    const third = await ch.hostCall(mark3);
    ch.write({ id: third.id!, hostResult: { error: {} } });
    expect(json(await ch.result(501)).code).toBe('PLUGHOST_HOST_SERVICE_FAILED');

    // In server mode the plugin cannot know what this host offers (another host may have described it
    // last), so an unknown service is asked of the host, which answers for itself.
    const mark4 = ch.frames.length;
    ch.write({ id: 502, call: { method: 'ask', payload: ask({ service: 'nope', payload: 'x' }) } });
    const asked = await ch.hostCall(mark4);
    expect(asked.hostCall?.service).toBe('nope');
    ch.write({ id: asked.id!, hostResult: { error: { code: 'PLUGHOST_HOST_SERVICE_NOT_FOUND', message: 'not offered' } } });
    expect(json(await ch.result(502)).code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
    // Refused in the plugin, nothing sent: a payload over the limit.
    const before = ch.frames.filter((f) => f.kind === 'hostCall').length;
    ch.write({ id: 503, call: { method: 'ask', payload: ask({ service: 'kv', size: MAX - 256 - 1 }) } });
    expect(json(await ch.result(503)).code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    expect(ch.frames.filter((f) => f.kind === 'hostCall').length).toBe(before);

    // The unary Call RPC has no Channel to carry host calls.
    expect(json(await unary<WireResult>(plugin, 'Call', { method: 'ask', payload: ask({ service: 'kv', payload: 'x' }) })).code).toBe('PLUGHOST_HOST_CALLS_UNAVAILABLE');
  });

  it('gives up with host_cancel on its own deadline and when the host cancels the method', async () => {
    const { plugin } = await described();
    const ch = openChannel(plugin);

    ch.write({ id: 1, call: { method: 'ask', payload: ask({ service: 'kv', payload: 'slow', timeout_ms: 150 }) } });
    const slow = await ch.hostCall();
    expect(slow.hostCall?.timeoutMs).toBe(150);
    expect(json(await ch.result(1)).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(await ch.frame((f) => f.kind === 'hostCancel' && f.id === slow.id, 'host_cancel')).toMatchObject({ hostCancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } });
    ch.write({ id: slow.id!, hostResult: { payload: bytes('too late') } }); // ignored

    const mark = ch.frames.length;
    ch.write({ id: 2, call: { method: 'ask', payload: ask({ service: 'kv', payload: 'abandoned', tag: 'cancelled' }) } });
    const abandoned = await ch.hostCall(mark);
    ch.write({ id: 2, cancel: { reason: 'PLUGHOST_CALL_ABORTED' } });
    expect(await ch.frame((f) => f.kind === 'hostCancel' && f.id === abandoned.id, 'host_cancel', mark)).toMatchObject({ hostCancel: { reason: 'PLUGHOST_CANCELLED' } });
    const recorded = await waitFor(async () => json(await unary<WireResult>(plugin, 'Call', { method: 'outcome', payload: bytes('cancelled') })), {
      what: 'the cancelled method to record its outcome',
    });
    expect(recorded.code).toBe('PLUGHOST_CANCELLED');
    // A cancelled call sends nothing more (its result is dropped): the next reply comes, and no result for id 2.
    ch.write({ id: 3, call: { method: 'echo', payload: bytes('after') } });
    expect(text((await ch.result(3)).payload)).toBe('after');
    expect(ch.frames.some((f) => f.kind === 'result' && f.id === 2)).toBe(false);
  });

  it('plughost_plugin.host calls from outside a method; an ended Channel fails the calls open on it', async () => {
    const { plugin } = await described();
    const ch = openChannel(plugin);
    ch.write({ id: 1, call: { method: 'background', payload: bytes('') } });
    expect(text((await ch.result(1)).payload)).toBe('started');
    const fromThread = await ch.hostCall();
    expect(text(fromThread.hostCall?.payload)).toBe('from a thread');
    const mark = ch.frames.length;
    ch.write({ id: fromThread.id!, hostResult: { payload: bytes('pong') } });
    const followUp = await ch.hostCall(mark);
    expect(text(followUp.hostCall?.payload)).toBe('the thread got pong');
    ch.write({ id: followUp.id!, hostResult: {} });

    const mark2 = ch.frames.length;
    ch.write({ id: 2, call: { method: 'ask', payload: ask({ service: 'kv', payload: 'orphan', tag: 'ended' }) } });
    await ch.hostCall(mark2);
    ch.stream.end(); // the host half-closes: every call on the Channel is over
    await waitFor(() => ch.ended, { what: 'the plugin to end the Channel' });
    const recorded = await waitFor(async () => json(await unary<WireResult>(plugin, 'Call', { method: 'outcome', payload: bytes('ended') })), {
      what: 'the method to record its outcome',
    });
    expect(recorded.code).toBe('PLUGHOST_HOST_CALLS_UNAVAILABLE');

    // With no Channel open, calls from outside a method are unavailable too.
    ch.write({ id: 3, call: { method: 'background', payload: bytes('') } }); // on an ended stream: dropped
    const other = openChannel(plugin);
    other.write({ id: 1, call: { method: 'echo', payload: bytes('new channel') } });
    expect(text((await other.result(1)).payload)).toBe('new channel');
  });
});

describe('Python SDK AutoMTLS (PLUGIN_CLIENT_CERT)', () => {
  function startHosted(clientCert: string): Proc {
    const socketDir = fs.mkdtempSync(path.join(dir, 'sock-'));
    return spawnPlugin({
      [PLUGHOST_COOKIE.key]: PLUGHOST_COOKIE.value,
      [ENV.protocolVersions]: '1',
      [ENV.socketDir]: socketDir,
      [ENV.parentPid]: String(process.pid),
      [ENV.clientCert]: clientCert,
    });
  }
  const autoTls = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

  it('serves TLS with a one-time CA certificate for localhost (field 6), and takes only the host certificate', async () => {
    const hostIdentity = oneTimeIdentity();
    const p = startHosted(hostIdentity.cert);
    const line = await firstLine(p);
    const fields = line.split('|');
    expect(fields.slice(0, 3)).toEqual(['1', '1', 'unix']);
    expect(fields[4]).toBe('grpc');
    expect(fields).toHaveLength(6);
    expect(fields[5]).toMatch(/^[A-Za-z0-9+/]+$/); // base64, no padding (go-plugin's encoding)

    const pem = certificateFromHandshake(fields[5]!);
    const x509 = new crypto.X509Certificate(pem);
    expect(x509.ca).toBe(true);
    expect(x509.subject).toBe('CN=localhost');
    expect(x509.subjectAltName).toBe('DNS:localhost');
    expect(x509.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);

    const target = `unix:${fields[3]}`;
    const trusted = grpc.credentials.createSsl(Buffer.from(pem), Buffer.from(hostIdentity.key), Buffer.from(hostIdentity.cert));
    expect(await unary(client(PluginClient, target, trusted, autoTls), 'Describe', { protocolVersion: 1 })).toMatchObject({ name: 'remote-py' });

    const other = oneTimeIdentity();
    for (const credentials of [
      grpc.credentials.createSsl(Buffer.from(pem), Buffer.from(other.key), Buffer.from(other.cert)),
      grpc.credentials.createSsl(Buffer.from(pem)),
      grpc.credentials.createInsecure(),
    ]) {
      const err = await unary(client(PluginClient, target, credentials, autoTls), 'Describe', { protocolVersion: 1 }, 5_000).catch((e: grpc.ServiceError) => e);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    }
    // A certificate of the plugin's own per start.
    const again = await firstLine(startHosted(hostIdentity.cert));
    expect(again.split('|')[5]).not.toBe(fields[5]);
  });

  it('a PLUGIN_CLIENT_CERT that is not a certificate exits 1 before the handshake', async () => {
    const p = startHosted('not a certificate');
    expect(await waitForExit(p, 10_000)).toEqual({ code: 1, signal: null });
    expect(p.stdout()).toBe('');
    expect(p.stderr()).toContain('PLUGIN_CLIENT_CERT');
    expect(p.stderr()).not.toContain('Traceback');
  });
});

describe('with the real host', () => {
  let host: Host | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it("loadDynamic with tls: 'auto' and a host service the plugin calls", async () => {
    host = createHost({ manifest: false, services: { kv: (payload) => `kv:${text(payload)}` } });
    const plugin = await host.loadDynamic({ name: 'remote-py', command: [python, script], tls: 'auto', env: { SDK_DIR: sdkDir } });
    const out = JSON.parse(text(await plugin.call('ask', ask({ service: 'kv', payload: 'over AutoMTLS' }))));
    expect(out).toEqual({ ok: 'kv:over AutoMTLS' });
  });

  it('connect() to the plugin in server mode over mutual TLS', async () => {
    const s = await startServer(mtlsEnv());
    const clientFiles = writePem(dir, 'host-client', clientPem);
    host = createHost({ manifest: false });
    const plugin = await host.connect({ name: 'remote-py', endpoints: [s.address], tls: { ca: caFile, ...clientFiles, serverName: 'localhost' } });
    expect(plugin.idempotent).toEqual(expect.arrayContaining(['echo', 'outcome']));
    expect(text(await plugin.call('echo', bytes('remote')))).toBe('remote');
  });

  function ask(req: object): Uint8Array {
    return bytes(JSON.stringify(req));
  }
});

describe("the SDK's host calls without a peer", () => {
  it('passes its Python unit tests (tests/test_host.py)', () => {
    const out = execFileSync(python, [path.join(sdkDir, 'tests/test_host.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    expect(out.trim()).toBe('OK');
  });

  it('encodes and decodes the host-call frames as protobufjs does (tests/wire_cases.py)', () => {
    const root = protobuf.Root.fromJSON(PROTOCOL_DESCRIPTOR as unknown as protobuf.INamespace);
    const type = (name: string) => root.lookupType(`plughost.v1.${name}`);
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const h = (b: Uint8Array) => ({ hex: hex(b) });
    const payloads = [Buffer.alloc(0), bytes('héllo 🎉'), randomBytes(200), randomBytes(70_000)];
    const ids = [0, 1, 128, 2 ** 32 - 1];

    const decodeCases: Array<{ type: string; message: object; want: unknown }> = [];
    const encodeCases: Array<{ fn: string; args: unknown[]; type: string; want: Record<string, unknown> }> = [];
    for (const [i, id] of ids.entries()) {
      const payload = payloads[i % payloads.length]!;
      const idField = id === 0 ? {} : { id };
      decodeCases.push(
        { type: 'Frame', message: { id, hostResult: { payload } }, want: [id, 12, h(payload), null] },
        { type: 'Frame', message: { id, hostResult: { error: { code: 'E_KV', message: 'nö' } } }, want: [id, 12, h(Buffer.alloc(0)), ['E_KV', 'nö']] },
        { type: 'Frame', message: { id, hostResult: { error: {} } }, want: [id, 12, h(Buffer.alloc(0)), ['', '']] },
        // Members only a plugin sends: no kind.
        { type: 'Frame', message: { id, hostCall: { service: 'kv', payload } }, want: [id, 0, null, null] },
        { type: 'Frame', message: { id, hostCancel: { reason: 'x' } }, want: [id, 0, null, null] },
      );
      encodeCases.push(
        {
          fn: 'encode_frame_host_call',
          args: [id, 'kv.get', h(payload), 30_000],
          type: 'Frame',
          want: { ...idField, hostCall: { service: 'kv.get', ...(payload.length ? { payload } : {}), timeoutMs: 30_000 } },
        },
        { fn: 'encode_frame_host_call', args: [id, 'kv', h(payload), 0], type: 'Frame', want: { ...idField, hostCall: { service: 'kv', ...(payload.length ? { payload } : {}) } } },
        { fn: 'encode_frame_host_cancel', args: [id, 'PLUGHOST_DEADLINE_EXCEEDED'], type: 'Frame', want: { ...idField, hostCancel: { reason: 'PLUGHOST_DEADLINE_EXCEEDED' } } },
        { fn: 'encode_frame_host_cancel', args: [id, ''], type: 'Frame', want: { ...idField, hostCancel: {} } },
      );
    }
    decodeCases.push(
      { type: 'DescribeRequestHostServices', message: { protocolVersion: 1, hostServices: ['kv', 'lög', 'proto.AddHelper/Sum'] }, want: ['kv', 'lög', 'proto.AddHelper/Sum'] },
      { type: 'DescribeRequest', message: { protocolVersion: 1, hostServices: ['kv'] }, want: 1 },
      { type: 'DescribeRequestHostServices', message: { protocolVersion: 1 }, want: [] },
      { type: 'Result', message: { payload: bytes('p'), error: { code: 'E' } }, want: [h(bytes('p')), ['E', '']] },
    );
    encodeCases.push({
      fn: 'encode_describe_response',
      args: ['remote-py', '2.0.0', [['echo', 0, true], ['slow', 0, false], ['upper', 1]], ['channel', 'batch'], 1],
      type: 'DescribeResponse',
      want: { name: 'remote-py', version: '2.0.0', methods: [{ name: 'echo', idempotent: true }, { name: 'slow' }, { name: 'upper', kind: 1 }], capabilities: ['channel', 'batch'], protocolVersion: 1 },
    });

    const messageType = (t: string) => (t === 'DescribeRequestHostServices' ? 'DescribeRequest' : t);
    const input = JSON.stringify({
      decode: decodeCases.map((c) => ({ type: c.type, hex: hex(type(messageType(c.type)).encode(c.message).finish()) })),
      encode: encodeCases.map((c) => ({ fn: c.fn, args: c.args })),
    });
    const out = JSON.parse(
      execFileSync(python, [path.join(sdkDir, 'tests/wire_cases.py')], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }),
    ) as { decoded: unknown[]; encoded: string[] };

    decodeCases.forEach((c, i) => expect(out.decoded[i], `decode ${c.type} ${JSON.stringify(c.message).slice(0, 80)}`).toEqual(c.want));
    encodeCases.forEach((c, i) => {
      const t = type(c.type);
      const got = Buffer.from(out.encoded[i]!, 'hex');
      const label = `${c.fn}(${JSON.stringify(c.args).slice(0, 80)})`;
      expect(t.toObject(t.decode(got), { defaults: false }), label).toEqual(t.toObject(t.fromObject(c.want), { defaults: false }));
      expect(got.toString('hex'), label).toBe(hex(t.encode(t.fromObject(c.want)).finish()));
    });
  });
});
