// The TypeScript SDK's server mode (PLUGHOST_LISTEN, docs/protocol.md "Server
// mode") and its AutoMTLS in host mode (PLUGIN_CLIENT_CERT, "TLS"), as a
// remote host sees them: a real plugin subprocess, certificates made here,
// raw grpc-js clients. No host code, no mocks. Runs dist/ (built by
// test/setup/build-typescript.ts).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';

import { oneTimeIdentity, type Identity } from '../../src/protocol/certificates.js';
import { PLUGHOST_COOKIE } from '../../src/protocol/handshake.js';
import { tracked } from '../support/tracked.js';
import { ControllerService, HealthService, PluginService, type WireDescribeResponse } from '../../src/protocol/services.js';

const root = path.resolve(import.meta.dirname, '../..');
const sdk = pathToFileURL(path.join(root, 'dist/src/sdk/index.js')).href;

// ---------------------------------------------------------------------------
// Certificates: a CA that signs the server's certificate (127.0.0.1 and
// localhost) and a client's, and another CA with a client of its own.

interface Pair {
  readonly cert: string;
  readonly key: string;
}
interface Authority extends Pair {
  readonly forgeCert: forge.pki.Certificate;
  readonly forgeKey: forge.pki.rsa.PrivateKey;
}

function issue(commonName: string, issuer: Authority | undefined, kind: 'ca' | 'server' | 'client'): Authority {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // An even number of hex digits led by 01: a positive INTEGER in minimal DER (an odd count is padded
  // with a 00 byte, which strict parsers refuse as illegal padding when the next byte is below 0x80).
  cert.serialNumber = `01${crypto.randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(issuer === undefined ? [{ name: 'commonName', value: commonName }] : issuer.forgeCert.subject.attributes);
  const extensions: object[] =
    kind === 'ca'
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          kind === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
        ];
  if (kind === 'server') {
    extensions.push({ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] });
  }
  cert.setExtensions(extensions);
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  cert.sign(issuer?.forgeKey ?? forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem, forgeCert: cert, forgeKey };
}

let ca: Authority;
let server: Pair;
let client: Pair;
let otherCa: Authority;
let otherClient: Pair;

beforeAll(() => {
  ca = issue('plughost test CA', undefined, 'ca');
  server = issue('plughost test server', ca, 'server');
  client = issue('plughost test client', ca, 'client');
  otherCa = issue('another CA', undefined, 'ca');
  otherClient = issue('a client of another CA', otherCa, 'client');
});

// ---------------------------------------------------------------------------
// Processes and temp dirs: every one started is killed and removed after its test.

type Child = ChildProcessByStdio<null, Readable, Readable>;

const { children, clients, tempDir } = tracked<Child>('plughost-sdk-remote-');


const PLUGIN_SOURCE = `
import { serve } from ${JSON.stringify(sdk)};
await serve({
  name: 'remote-fixture',
  version: '2.0.0',
  methods: { echo: (p) => p, once: (p) => p },
  idempotent: ['echo'],
  appVersions: [1, 3],
});
`;

interface Started {
  child: Child;
  dir: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the plugin with the environment a host (or an operator) gives it; PLUGHOST_ and PLUGIN_ variables of this process are dropped. */
function start(env: Record<string, string>, dir = tempDir()): Started {
  const script = path.join(dir, 'plugin.mjs');
  fs.writeFileSync(script, PLUGIN_SOURCE);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PLUGHOST_|PLUGIN_)/.test(k)));
  const child = spawn(process.execPath, [script], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, dir, stdout: () => stdout, stderr: () => stderr, exited };
}

function firstLine(started: Started): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const out = started.stdout();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      started.child.stdout.off('data', check);
      started.child.off('exit', onExit);
      resolve(out.slice(0, nl));
    };
    const onExit = (code: number | null): void =>
      reject(new Error(`plugin exited (${code}) before its first line; stdout ${JSON.stringify(started.stdout())}, stderr ${started.stderr()}`));
    started.child.stdout.on('data', check);
    started.child.once('exit', onExit);
    check();
  });
}

function writeFiles(dir: string, files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([name, content]) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content, { mode: 0o600 });
      return [name, file];
    }),
  );
}

/** Server mode on 127.0.0.1, any free port, TLS from files (mutual with `clientCa`). */
async function startTls(options: { clientCa?: string } = {}): Promise<Started & { address: string; line: string }> {
  const dir = tempDir();
  const files = writeFiles(dir, { 'server.pem': server.cert, 'server.key': server.key, 'ca.pem': options.clientCa ?? '' });
  const started = start(
    {
      PLUGHOST_LISTEN: '127.0.0.1:0',
      PLUGHOST_TLS_CERT: files['server.pem']!,
      PLUGHOST_TLS_KEY: files['server.key']!,
      ...(options.clientCa === undefined ? {} : { PLUGHOST_TLS_CLIENT_CA: files['ca.pem']! }),
    },
    dir,
  );
  const line = await firstLine(started);
  const address = /^PLUGHOST_LISTENING (127\.0\.0\.1:\d+) tls$/.exec(line)?.[1];
  if (address === undefined) throw new Error(`not a listening line: ${JSON.stringify(line)}`);
  return { ...started, address, line };
}

// ---------------------------------------------------------------------------
// Raw clients.

const constructors = {
  plugin: grpc.makeGenericClientConstructor(PluginService, 'Plugin'),
  health: grpc.makeGenericClientConstructor(HealthService, 'Health'),
  controller: grpc.makeGenericClientConstructor(ControllerService, 'GRPCController'),
};
type AnyClient = grpc.Client & Record<string, any>;

/**
 * `options` default: check the server's name as localhost (also in its
 * certificate), since Node warns when TLS's server name is an IP address.
 */
function connect(kind: keyof typeof constructors, target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions): AnyClient {
  const c = new constructors[kind](target, credentials, options ?? { 'grpc.ssl_target_name_override': 'localhost' }) as AnyClient;
  clients.push(c);
  return c;
}

const tlsAs = (identity: Pair | undefined, trust = ca.cert): grpc.ChannelCredentials =>
  identity === undefined
    ? grpc.credentials.createSsl(Buffer.from(trust))
    : grpc.credentials.createSsl(Buffer.from(trust), Buffer.from(identity.key), Buffer.from(identity.cert));

function unary<T>(c: AnyClient, method: string, request: object, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

async function refusal(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

const describeOn = (c: AnyClient): Promise<WireDescribeResponse> => unary<WireDescribeResponse>(c, 'Describe', { protocolVersion: 1 });

function methodsOf(d: WireDescribeResponse): Array<{ name: string; idempotent: boolean }> {
  return (d.methods ?? []).map((m) => ({ name: m.name ?? '', idempotent: m.idempotent === true })).sort((a, b) => a.name.localeCompare(b.name));
}

// ---------------------------------------------------------------------------

describe('server mode (PLUGHOST_LISTEN)', () => {
  it('serves mutual TLS on a free port without a cookie, and Describe reports idempotent methods', async () => {
    const p = await startTls({ clientCa: ca.cert });
    expect(Number(p.address.split(':')[1])).toBeGreaterThan(0);
    const plugin = connect('plugin', p.address, tlsAs(client));
    const d = await describeOn(plugin);
    expect(d).toMatchObject({ name: 'remote-fixture', version: '2.0.0', protocolVersion: 1 });
    expect(methodsOf(d)).toEqual([
      { name: 'echo', idempotent: true },
      { name: 'once', idempotent: false },
    ]);
    const result = await unary<{ payload?: Uint8Array }>(plugin, 'Call', { method: 'echo', payload: Buffer.from('over mTLS') });
    expect(Buffer.from(result.payload ?? []).toString()).toBe('over mTLS');
  });

  it('refuses a client whose certificate is from another CA, a client without one, and a plaintext client', async () => {
    const p = await startTls({ clientCa: ca.cert });
    for (const credentials of [tlsAs(otherClient), tlsAs(undefined), grpc.credentials.createInsecure()]) {
      const err = await refusal(describeOn(connect('plugin', p.address, credentials)));
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
    }
    // Still serving the right client after those.
    expect((await describeOn(connect('plugin', p.address, tlsAs(client)))).name).toBe('remote-fixture');
  });

  it('without PLUGHOST_TLS_CLIENT_CA serves TLS to clients without a certificate, and still refuses plaintext', async () => {
    const p = await startTls();
    expect((await describeOn(connect('plugin', p.address, tlsAs(undefined)))).name).toBe('remote-fixture');
    const err = await refusal(describeOn(connect('plugin', p.address, grpc.credentials.createInsecure())));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('answers health SERVING and GRPCController/Shutdown PERMISSION_DENIED, and keeps serving', async () => {
    const p = await startTls({ clientCa: ca.cert });
    const health = connect('health', p.address, tlsAs(client));
    expect(await unary(health, 'Check', { service: 'plugin' })).toMatchObject({ status: 1 });
    expect(await unary(health, 'Check', { service: '' })).toMatchObject({ status: 1 });
    const err = await refusal(unary(connect('controller', p.address, tlsAs(client)), 'Shutdown', {}));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    // Nor may one client reconfigure a server that other hosts share.
    expect((await refusal(unary(connect('plugin', p.address, tlsAs(client)), 'Configure', { config: Buffer.from('{}') }))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await unary(health, 'Check', { service: 'plugin' })).toMatchObject({ status: 1 });
    expect(p.child.exitCode).toBeNull();
  });

  it('on SIGTERM tells health watchers NOT_SERVING, exits 0, and has printed only the listening line', async () => {
    const p = await startTls({ clientCa: ca.cert });
    const health = connect('health', p.address, tlsAs(client));
    const watch = health.Watch({ service: 'plugin' }) as grpc.ClientReadableStream<{ status?: number }>;
    const statuses: number[] = [];
    watch.on('error', () => {});
    const ended = new Promise<void>((resolve) => {
      watch.on('end', resolve);
      watch.on('error', () => resolve());
    });
    const firstStatus = new Promise<void>((resolve) =>
      watch.on('data', (m: { status?: number }) => {
        statuses.push(m.status ?? 0);
        resolve();
      }),
    );
    await firstStatus;
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    await ended;
    expect(statuses).toEqual([1, 2]);
    expect(p.stdout()).toBe(`${p.line}\n`);
  });

  it('exits 0 on SIGINT too', async () => {
    const p = await startTls({ clientCa: ca.cert });
    p.child.kill('SIGINT');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it('serves plaintext with PLUGHOST_INSECURE=1 on a loopback address', async () => {
    const p = start({ PLUGHOST_LISTEN: '127.0.0.1:0', PLUGHOST_INSECURE: '1' });
    const line = await firstLine(p);
    const address = /^PLUGHOST_LISTENING (127\.0\.0\.1:\d+) plaintext$/.exec(line)?.[1];
    expect(address).toBeDefined();
    expect((await describeOn(connect('plugin', address!, grpc.credentials.createInsecure()))).name).toBe('remote-fixture');
  });

  it('refuses PLUGHOST_INSECURE=1 on an address that is not loopback: status 1, a message, nothing on stdout', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:0']) {
      const p = start({ PLUGHOST_LISTEN: listen, PLUGHOST_INSECURE: '1' });
      expect(await p.exited).toEqual({ code: 1, signal: null });
      expect(p.stdout()).toBe('');
      expect(p.stderr()).toContain('PLUGHOST_INSECURE=1');
      expect(p.stderr()).toMatch(/loopback address only/);
      expect(p.stderr()).toContain(listen);
    }
  });

  it('exits 1 naming the variables when there is neither TLS nor PLUGHOST_INSECURE', async () => {
    const p = start({ PLUGHOST_LISTEN: '127.0.0.1:0' });
    expect(await p.exited).toEqual({ code: 1, signal: null });
    expect(p.stdout()).toBe('');
    for (const name of ['PLUGHOST_TLS_CERT', 'PLUGHOST_TLS_KEY', 'PLUGHOST_INSECURE']) expect(p.stderr()).toContain(name);
  });

  it('exits 1 with a clear message, not a stack trace, when a TLS file cannot be read or used', async () => {
    const dir = tempDir();
    const files = writeFiles(dir, { 'server.pem': server.cert, 'server.key': server.key, 'other.key': client.key, 'junk.pem': 'not a certificate\n' });
    const missing = path.join(dir, 'missing.pem');
    const cases: Array<{ env: Record<string, string>; want: RegExp }> = [
      { env: { PLUGHOST_TLS_CERT: missing, PLUGHOST_TLS_KEY: files['server.key']! }, want: /cannot read PLUGHOST_TLS_CERT \(.*missing\.pem\)/ },
      { env: { PLUGHOST_TLS_CERT: files['junk.pem']!, PLUGHOST_TLS_KEY: files['server.key']! }, want: /PLUGHOST_TLS_CERT \(.*junk\.pem\) is not a PEM certificate/ },
      { env: { PLUGHOST_TLS_CERT: files['server.pem']!, PLUGHOST_TLS_KEY: files['other.key']! }, want: /PLUGHOST_TLS_KEY .* is not the key of the certificate/ },
      {
        env: { PLUGHOST_TLS_CERT: files['server.pem']!, PLUGHOST_TLS_KEY: files['server.key']!, PLUGHOST_TLS_CLIENT_CA: missing },
        want: /cannot read PLUGHOST_TLS_CLIENT_CA/,
      },
    ];
    for (const { env, want } of cases) {
      const p = start({ PLUGHOST_LISTEN: '127.0.0.1:0', ...env });
      expect(await p.exited).toEqual({ code: 1, signal: null });
      expect(p.stdout()).toBe('');
      expect(p.stderr()).toMatch(want);
      expect(p.stderr()).not.toMatch(/^\s+at /m);
    }
  });
});

describe('AutoMTLS (PLUGIN_CLIENT_CERT, host-started)', () => {
  let hostIdentity: Identity;
  let otherIdentity: Identity;
  beforeAll(() => {
    hostIdentity = oneTimeIdentity();
    otherIdentity = oneTimeIdentity();
  });

  function hostStarted(): Started {
    const dir = tempDir();
    return start(
      {
        [PLUGHOST_COOKIE.key]: PLUGHOST_COOKIE.value,
        PLUGIN_PROTOCOL_VERSIONS: '1',
        PLUGIN_UNIX_SOCKET_DIR: dir,
        PLUGIN_CLIENT_CERT: hostIdentity.cert,
      },
      dir,
    );
  }

  it('serves TLS on its Unix socket, puts its certificate in the handshake, and requires the host certificate', async () => {
    const p = hostStarted();
    const line = await firstLine(p);
    const match = /^1\|1\|unix\|(\/[^|]+)\|grpc\|([A-Za-z0-9+/]+)$/.exec(line);
    expect(match).not.toBeNull();
    const [, socket, field] = match!;
    expect(path.dirname(socket!)).toBe(p.dir);
    const serverCert = new crypto.X509Certificate(Buffer.from(field!, 'base64'));
    expect(serverCert.subjectAltName).toContain('DNS:localhost');
    expect(serverCert.ca).toBe(true);

    const options = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
    const trust = Buffer.from(serverCert.toString());
    const as = (identity: Identity): grpc.ChannelCredentials =>
      grpc.credentials.createSsl(trust, Buffer.from(identity.key), Buffer.from(identity.cert));
    const target = `unix:${socket}`;
    expect((await describeOn(connect('plugin', target, as(hostIdentity), options))).name).toBe('remote-fixture');
    for (const credentials of [as(otherIdentity), grpc.credentials.createSsl(trust), grpc.credentials.createInsecure()]) {
      const err = await refusal(describeOn(connect('plugin', target, credentials, options)));
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
    }
    // Host mode keeps GRPCController/Shutdown: it exits 0 after answering.
    await unary(connect('controller', target, as(hostIdentity), options), 'Shutdown', {});
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it('exits 1 when PLUGIN_CLIENT_CERT is not a certificate', async () => {
    const dir = tempDir();
    const p = start(
      { [PLUGHOST_COOKIE.key]: PLUGHOST_COOKIE.value, PLUGIN_PROTOCOL_VERSIONS: '1', PLUGIN_UNIX_SOCKET_DIR: dir, PLUGIN_CLIENT_CERT: 'garbage' },
      dir,
    );
    expect(await p.exited).toEqual({ code: 1, signal: null });
    expect(p.stdout()).toBe('');
    expect(p.stderr()).toMatch(/PLUGIN_CLIENT_CERT is not a PEM certificate/);
  });
});
