// hashicorp/go-plugin's examples/bidirectional plugin, unchanged and built
// offline against Debian's go-plugin 1.0.1 (test/fixtures/dynamic/go-bidir):
// its Counter.Put dials the host's AddHelper through GRPCBroker, which the
// host serves for the call. A service that throws, hangs or is not lent gives
// the plugin an error and the host (and the plugin) stay up.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { createHost, HostServiceError, silentLogger, type Host, type HostServices } from '../../src/index.js';
import { goBidirProto } from '../support/go-build.js';
import { rejection, waitFor } from './support.js';

const bidir = inject('goBidirPlugin');

let host: Host;
let dir: string;
const sums: Array<{ a: string; b: string }> = [];
let mode: 'add' | 'throw' | 'own' | 'hang' = 'add';
let hangAborted = 0;

const services: HostServices = {
  AddHelper: {
    protoFile: goBidirProto,
    service: 'proto.AddHelper',
    implementation: {
      Sum: (req: { a: string; b: string }, call) => {
        sums.push({ a: req.a, b: req.b });
        if (mode === 'throw') throw new Error('host database password is hunter2');
        if (mode === 'own') throw new HostServiceError('SUM_REFUSED', 'numbers too large');
        if (mode === 'hang') return new Promise<object>(() => call.signal.addEventListener('abort', () => void hangAborted++));
        return { r: String(BigInt(req.a) + BigInt(req.b)) };
      },
    },
  },
};

beforeEach(() => {
  sums.length = 0;
  mode = 'add';
  hangAborted = 0;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bidir-'));
  host = createHost({ manifest: false, logger: silentLogger, services });
});
afterEach(async () => {
  await host.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const load = (tls?: 'auto') =>
  host.loadDynamic({ name: 'bidir', command: [bidir!], cwd: dir, cookie: { key: 'BASIC_PLUGIN', value: 'hello' }, ...(tls ? { tls } : {}) });

describe("go-plugin's examples/bidirectional", () => {
  it.skipIf(bidir === null)('calls back into the host through GRPCBroker, unchanged', async () => {
    const plugin = await load();
    const counter = plugin.appService(goBidirProto, 'proto.Counter');
    await counter.call('Put', { key: 'hello', value: 1 }, { broker: { add_server: 'AddHelper' } });
    await counter.call('Put', { key: 'hello', value: 41 }, { broker: { add_server: 'AddHelper' } });
    expect(await counter.call('Get', { key: 'hello' })).toMatchObject({ value: '42' });
    expect(sums).toEqual([
      { a: '0', b: '1' },
      { a: '1', b: '41' },
    ]);
    // The plugin stored what the host's Sum answered.
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'kv_hello'), 'utf8'))).toEqual({ Value: 42 });
    expect(await host.metrics().text()).toContain('plugin_host_call_total{plugin="bidir",service="AddHelper/Sum",status="ok"} 2');
  });

  it.skipIf(bidir === null)('gets an error, and everyone stays up, when the host service throws, hangs or is not lent', async () => {
    const plugin = await load();
    const [pid] = plugin.pids();
    const counter = plugin.appService(goBidirProto, 'proto.Counter');
    const put = (timeoutMs = 5_000) => counter.call('Put', { key: 'k', value: 2 }, { broker: { add_server: 'AddHelper' }, timeoutMs });

    mode = 'throw';
    const thrown = await rejection(put());
    expect(thrown.message).toContain('PLUGHOST_HOST_SERVICE_FAILED');
    expect(thrown.message).not.toContain('hunter2');
    mode = 'own';
    expect((await rejection(put())).message).toContain('SUM_REFUSED: numbers too large');
    mode = 'hang';
    await rejection(put(500));
    await waitFor(() => hangAborted === 1, 5_000, 'the hung service to be aborted when its call ended');
    const notLent = await rejection(counter.call('Put', { key: 'k', value: 2 }, { broker: { add_server: 'Nope' } }));
    expect(notLent.code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
    const badField = await rejection(counter.call('Put', { key: 'k', value: 2 }, { broker: { nope: 'AddHelper' } }));
    expect(badField.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    // Not lent at all: the plugin dials an id the host never served, and the call fails at once, typed.
    const started = Date.now();
    expect((await rejection(counter.call('Put', { key: 'k', value: 2, add_server: 9 }, { timeoutMs: 3_000 }))).code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
    expect(Date.now() - started).toBeLessThan(3_000);

    mode = 'add';
    await put();
    expect(await counter.call('Get', { key: 'k' })).toMatchObject({ value: '2' });
    expect(plugin.pids()).toEqual([pid]);
  });

  it.skipIf(bidir === null)('loads and serves its own methods over AutoMTLS (tls: auto)', async () => {
    const plugin = await load('auto');
    const counter = plugin.appService(goBidirProto, 'proto.Counter');
    fs.writeFileSync(path.join(dir, 'kv_seeded'), JSON.stringify({ Value: 7 }));
    expect(await counter.call('Get', { key: 'seeded' })).toMatchObject({ value: '7' });
  });
});
