// No plugin behaviour can crash the host (issue 9): a go-plugin plugin's
// streaming methods are refused typed through appService().call(), a plugin
// that calls back through GRPCBroker gets a typed error from the host within
// the call's deadline, and the trap that fails a dynamic fault test on an
// uncaught exception or unhandled rejection (test/setup/trap-uncaught.ts)
// really bites. Real processes, real gRPC; the Go plugin is built offline.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { createHost, type DynamicPlugin, type Host } from '../../src/index.js';
import { alive, capturingLogger, rejection, root } from '../dynamic/support.js';
import { buildTrustGo, trustProto } from './go-fixture.js';

// Built (or found up to date) while the file is collected; null without Go (never in CI).
const goBinary = buildTrustGo();

let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

async function trustGo(extra: { callTimeoutMs?: number } = {}): Promise<DynamicPlugin> {
  const host = createHost({ buildId: 'trust-tests', logger: capturingLogger() });
  hosts.push(host);
  return host.loadDynamic({ name: 'trust-go', command: [goBinary!], cookie: { key: 'TRUST_PLUGIN', value: 'go' }, ...extra });
}

describe('app-service streaming methods', () => {
  it.skipIf(goBinary === null)('are refused up front with a typed error, and the plugin keeps serving', async () => {
    const plugin = await trustGo();
    const streams = plugin.appService(trustProto, 'trust.Streams');
    for (const [method, kind] of [
      ['Read', 'server'],
      ['Write', 'client'],
      ['Chat', 'bidirectional'],
    ] as const) {
      const err = await rejection(streams.call(method, { key: 'fail' }, { timeoutMs: 5_000 }));
      expect(err.code).toBe('PLUGHOST_APP_STREAM_UNSUPPORTED');
      expect(err.message).toContain(`trust.Streams.${method} is a ${kind}-streaming method`);
      expect(err.message).toContain('client()');
    }
    const unknown = await rejection(streams.call('Nope', {}));
    expect(unknown.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    // Still serving: a unary call on the same instance answers.
    const counter = plugin.appService(trustProto, 'trust.Counter');
    expect(await counter.call<{ value: string }>('Get', { key: 'k' })).toMatchObject({ value: '0' });
  });
});

describe('GRPCBroker callbacks', () => {
  it.skipIf(goBinary === null)('for a service the call did not lend fail typed from the host, within the call deadline and long before the plugin gives up', async () => {
    const plugin = await trustGo();
    const counter = plugin.appService(trustProto, 'trust.Counter');
    for (const request of [{ key: 'a', value: 2, add_server: 7 }, { key: 'a', value: 3 }, { key: 'a', value: 4, add_server: 7 }]) {
      const started = Date.now();
      // go-plugin's Dial gives up after 5 s: a deadline below it is only met by the host's own answer.
      const err = await rejection(counter.call('Put', request, { timeoutMs: 3_000 }));
      expect(err.code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
      expect(err.message).toContain('GRPCBroker');
      expect(err.message).toContain('trust.Counter.Put');
      expect(err.found).toContain(`id ${request.add_server ?? 0} (the request's add_server)`);
      expect(Date.now() - started).toBeLessThan(3_000);
    }
    // Nothing was added, and the plugin still serves.
    expect(await counter.call<{ value: string }>('Get', { key: 'a' })).toMatchObject({ value: '0' });
    const [pid] = plugin.pids();
    await plugin.close();
    expect(alive(pid!)).toBe(false);
  });
});

describe('GRPCBroker guard resources', () => {
  it.skipIf(goBinary === null)('holds no listener past its call: 200 distinct broker ids leave no fds behind', async () => {
    const plugin = await trustGo();
    const counter = plugin.appService(trustProto, 'trust.Counter');
    const fds = (): number => fs.readdirSync('/proc/self/fd').length;
    await rejection(counter.call('Put', { key: 'a', value: 1, add_server: 1 }, { timeoutMs: 3_000 }));
    const before = fds();
    for (let id = 2; id <= 201; id++) {
      expect((await rejection(counter.call('Put', { key: 'a', value: 1, add_server: id }, { timeoutMs: 3_000 }))).code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
    }
    // A listener is closed asynchronously; give the loop a turn before counting.
    await new Promise((resolve) => setImmediate(resolve));
    expect(fds() - before).toBeLessThan(20);
  });
});

describe('the uncaught-error trap', () => {
  it('fails a dynamic fault test that lets an exception or a rejection escape', () => {
    // A scratch project under dist/ (ignored by git, resolves vitest from here) with one trapped test file.
    const dir = path.join(root, 'dist/trap-check');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'test/trust'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'vitest.config.mjs'),
      `export default { test: { root: ${JSON.stringify(dir)}, include: ['test/**/*.test.ts'], setupFiles: [${JSON.stringify(path.join(root, 'test/setup/trap-uncaught.ts'))}] } };\n`,
    );
    const turn = 'await new Promise((r) => setImmediate(() => setImmediate(r)));';
    fs.writeFileSync(
      path.join(dir, 'test/trust/provoke.test.ts'),
      [
        "import { it } from 'vitest';",
        `it('throws from a callback', async () => { setImmediate(() => { throw new Error('escaped on purpose'); }); ${turn} });`,
        `it('rejects with nobody listening', async () => { void Promise.reject(new Error('rejected on purpose')); ${turn} });`,
        `it('stays clean', async () => { ${turn} });`,
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', path.join(dir, 'vitest.config.mjs'), '--reporter', 'verbose'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CI: '', NO_COLOR: '1', FORCE_COLOR: '0' },
      timeout: 60_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).not.toBe(0);
    expect(output).toMatch(/× .*> throws from a callback/);
    expect(output).toMatch(/× .*> rejects with nobody listening/);
    expect(output).toMatch(/✓ .*> stays clean/);
    expect(output).toContain('uncaughtException: Error: escaped on purpose');
    expect(output).toContain('unhandledRejection: Error: rejected on purpose');
  });
});
