// Host callbacks: real plugins (TypeScript SDK, Python SDK) call services of
// the host over their Channel; a service that throws, hangs or is missing
// gives the plugin a typed error, and the host stays up.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { goBidirProto } from '../support/go-build.js';
import { createHost, HostServiceError, silentLogger, type DynamicPluginOptions, type Host, type HostServices } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { bytes, capturingLogger, dist, root, text, waitFor } from './support.js';

let host: Host;
let hangAborted = 0;
const logger = capturingLogger();

const services: HostServices = {
  double: (p) => String(Number(text(p)) * 2),
  fail: () => {
    throw new Error('cannot open /etc/host-secret: denied');
  },
  own: () => {
    throw new HostServiceError('NOT_ALLOWED', 'the key is read-only');
  },
  hang: (_p, call) =>
    new Promise<string>(() => {
      call.signal.addEventListener('abort', () => void hangAborted++);
    }),
  big: () => Buffer.alloc(70 * 1024),
  wrong: () => 42 as unknown as string,
};

beforeEach(() => {
  hangAborted = 0;
  logger.entries.length = 0;
  host = createHost({ manifest: false, logger, services });
});
afterEach(async () => {
  await host.close();
});

interface Answer {
  ok?: string;
  code?: string;
  message?: string;
}

const plugins: Array<{ name: string; options: () => DynamicPluginOptions }> = [
  {
    name: 'TypeScript SDK',
    options: () => ({ name: 'reach', command: [process.execPath, dist('test/fixtures/dynamic/reach-plugin.js')] }),
  },
  {
    name: 'Python SDK',
    options: () => ({
      name: 'reach',
      command: [pythonWithGrpc(), path.join(root, 'test/fixtures/dynamic/python/reach_plugin.py')],
      env: { PYTHONPATH: path.join(root, 'plugins-dynamic/python') },
    }),
  },
];

describe.each(plugins)('host calls from a $name plugin', ({ options }) => {
  const load = (extra: Partial<DynamicPluginOptions> = {}) =>
    host.loadDynamic({ ...options(), maxMessageBytes: 64 * 1024, services: { audit: () => 'audited' }, ...extra });
  const ask = async (plugin: Awaited<ReturnType<typeof load>>, service: string, payload = '', timeoutMs?: number): Promise<Answer> =>
    JSON.parse(text(await plugin.call('ask', bytes(JSON.stringify({ service, payload, ...(timeoutMs === undefined ? {} : { timeoutMs }) }))))) as Answer;

  it('reach the host service and come back, with the services listed to the plugin', async () => {
    const plugin = await load();
    expect(JSON.parse(text(await plugin.call('services', bytes(''))))).toEqual(expect.arrayContaining(['double', 'fail', 'own', 'hang', 'audit']));
    expect(await ask(plugin, 'double', '21')).toEqual({ ok: '42' });
    expect(await ask(plugin, 'audit')).toEqual({ ok: 'audited' });
    expect(text(await plugin.call('fanout', bytes('100')))).toBe(Array.from({ length: 100 }, (_, i) => String(i * 2)).join(','));
    // 100 host calls at once from one method listen on its signal: that is no leak to warn of.
    expect(logger.entries.filter((e) => /MaxListeners|memory leak/i.test(e.message))).toEqual([]);
    const metrics = await host.metrics().text();
    expect(metrics).toMatch(/plugin_host_call_total\{plugin="reach",service="double",status="ok"\} 10[1-9]/);
  });

  it('fail typed when the service throws, hangs past the deadline, answers too much or is missing, and the host stays up', async () => {
    const plugin = await load();
    const failed = await ask(plugin, 'fail');
    expect(failed.code).toBe('PLUGHOST_HOST_SERVICE_FAILED');
    // The host's own error text stays in the host.
    expect(failed.message).not.toContain('host-secret');
    expect(logger.entries.some((e) => e.message === 'host service failed' && String(e.fields.error).includes('host-secret'))).toBe(true);
    expect(await ask(plugin, 'own')).toMatchObject({ code: 'NOT_ALLOWED', message: 'the key is read-only' });
    expect((await ask(plugin, 'hang', '', 200)).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    await waitFor(() => hangAborted === 1, 5_000, "the hung service's signal to abort");
    expect((await ask(plugin, 'big')).code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    expect((await ask(plugin, 'wrong')).code).toBe('PLUGHOST_HOST_SERVICE_FAILED');
    expect((await ask(plugin, 'nope')).code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
    // Still serving, same process.
    const [pid] = plugin.pids();
    expect(await ask(plugin, 'double', '2')).toEqual({ ok: '4' });
    expect(plugin.pids()).toEqual([pid]);
    const metrics = await host.metrics().text();
    // The host answers at the deadline, or the plugin gave up a moment before and cancelled: either way it is counted.
    expect(metrics).toMatch(/plugin_host_call_total\{plugin="reach",service="hang",status="PLUGHOST_(DEADLINE_EXCEEDED|CANCELLED)"\} 1/);
  });

  it('are cancelled with the method that made them', async () => {
    const plugin = await load();
    // The method waits on a hung host call; the method's deadline cancels both.
    const err = await plugin.call('ask', bytes(JSON.stringify({ service: 'hang', payload: '' })), { timeoutMs: 300 }).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    await waitFor(() => hangAborted === 1, 5_000, 'the host call to be cancelled with its method');
  });

  it('work over AutoMTLS (tls: auto) too', async () => {
    const plugin = await load({ tls: 'auto' });
    expect(await ask(plugin, 'double', '5')).toEqual({ ok: '10' });
  });
});

describe('host services, as configured', () => {
  it("add a plugin's own to the host's, gRPC ones included, and never let an inherited PLUGHOST_LISTEN make a served plugin a server", async () => {
    const withGrpc = createHost({
      manifest: false,
      logger: silentLogger,
      services: { AddHelper: { protoFile: goBidirProto, service: 'proto.AddHelper', implementation: { Sum: () => ({ r: '0' }) } } },
    });
    try {
      const plugin = await withGrpc.loadDynamic({
        name: 'reach',
        command: [process.execPath, dist('test/fixtures/dynamic/reach-plugin.js')],
        env: { PLUGHOST_LISTEN: '0.0.0.0:0', PLUGHOST_INSECURE: '1' },
        services: { audit: () => 'ok' },
      });
      expect(JSON.parse(text(await plugin.call('services', bytes(''))))).toEqual(expect.arrayContaining(['AddHelper/Sum', 'audit']));
    } finally {
      await withGrpc.close();
    }
  });

  it('are refused at createHost when malformed', () => {
    expect(() => createHost({ manifest: false, services: { 'a/b': () => '' } })).toThrow(expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }));
    expect(() => createHost({ manifest: false, services: { x: { protoFile: '/nonexistent.proto', service: 'a.B', implementation: {} } } })).toThrow(
      expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }),
    );
    expect(() => createHost({ manifest: false, services: { x: 7 as never } })).toThrow(expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }));
  });
});
