// HostMetrics (its own registry, text exposition, HTTP endpoint), the
// DynamicPlugin observer against a real plugin process, and instrumentNative
// over a real native fixture.
import path from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { createHost, silentLogger, type PlughostError } from '../../src/index.js';
import { DynamicPlugin, type DynamicPluginObserver } from '../../src/dynamic/dynamic-plugin.js';
import { CALL_DURATION_BUCKETS, HostMetrics } from '../../src/metrics/host-metrics.js';
import { instrumentNative } from '../../src/metrics/index.js';
import { bytes, fixturePlugin, rejection, text, waitFor } from '../dynamic/support.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, sample lines only (label values here never hold quotes or commas). */
function parse(exposition: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3] === '+Inf' ? Infinity : match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels; undefined if none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(metrics: HostMetrics): Promise<Sample[]> {
  return parse(await metrics.text());
}

describe('HostMetrics', () => {
  it('records and exposes every metric', async () => {
    const m = new HostMetrics();
    m.recordLoad('crc32', 'native', 'loaded', 0.0018);
    m.recordLoad('crc32', 'native', 'refused', 0.0004);
    m.recordLoad('stats', 'dynamic', 'loaded', 0.09);
    m.recordCall('stats', 'count', 'ok', 20e-6);
    m.recordCall('stats', 'count', 'ok', 3e-6);
    m.recordCall('stats', 'count', 'STATS_EMPTY', 0.2);
    m.recordCall('stats', 'count', 'ok', 42); // above the largest bound: +Inf only
    m.recordRestart('stats');
    m.recordRestart('stats');
    m.setUp('stats', 'dynamic', true);
    m.setUp('crc32', 'native', true);
    m.setUp('stats', 'dynamic', false);
    let inflight = 3;
    m.trackInflight('stats', () => inflight);

    const s = await scrape(m);
    expect(value(s, 'plugin_load_total', { plugin: 'crc32', kind: 'native', status: 'loaded' })).toBe(1);
    expect(value(s, 'plugin_load_total', { plugin: 'crc32', kind: 'native', status: 'refused' })).toBe(1);
    expect(value(s, 'plugin_load_total', { plugin: 'stats', kind: 'dynamic', status: 'loaded' })).toBe(1);
    expect(value(s, 'plugin_load_duration_seconds_count', { plugin: 'crc32', kind: 'native' })).toBe(2);
    expect(value(s, 'plugin_load_duration_seconds_sum', { plugin: 'stats', kind: 'dynamic' })).toBeCloseTo(0.09);
    expect(value(s, 'plugin_load_duration_seconds_bucket', { plugin: 'stats', kind: 'dynamic', le: '0.1' })).toBe(1);
    expect(value(s, 'plugin_load_duration_seconds_bucket', { plugin: 'stats', kind: 'dynamic', le: '0.05' })).toBe(0);

    expect(value(s, 'plugin_call_total', { plugin: 'stats', method: 'count', status: 'ok' })).toBe(3);
    expect(value(s, 'plugin_call_total', { plugin: 'stats', method: 'count', status: 'STATS_EMPTY' })).toBe(1);
    const bucket = (le: string): number | undefined => value(s, 'plugin_call_duration_seconds_bucket', { plugin: 'stats', method: 'count', le });
    expect(bucket('0.000001')).toBe(0);
    expect(bucket('0.000005')).toBe(1); // 3 µs
    expect(bucket('0.000025')).toBe(2); // + 20 µs
    expect(bucket('0.25')).toBe(3); // + 0.2 s
    expect(bucket('10')).toBe(3);
    expect(bucket('+Inf')).toBe(4); // + 42 s
    expect(value(s, 'plugin_call_duration_seconds_count', { plugin: 'stats', method: 'count' })).toBe(4);
    expect(value(s, 'plugin_call_duration_seconds_sum', { plugin: 'stats', method: 'count' })).toBeCloseTo(42.200023, 6);
    // One bucket per bound, 1 µs to 10 s, then +Inf.
    const les = s.filter((x) => x.name === 'plugin_call_duration_seconds_bucket').map((x) => x.labels.le);
    expect(les).toEqual([...CALL_DURATION_BUCKETS.map(String), '+Inf']);
    expect(CALL_DURATION_BUCKETS[0]).toBe(1e-6);
    expect(CALL_DURATION_BUCKETS.at(-1)).toBe(10);

    expect(value(s, 'plugin_restarts_total', { plugin: 'stats' })).toBe(2);
    expect(value(s, 'plugin_up', { plugin: 'stats', kind: 'dynamic' })).toBe(0);
    expect(value(s, 'plugin_up', { plugin: 'crc32', kind: 'native' })).toBe(1);
    expect(value(s, 'plugin_inflight', { plugin: 'stats' })).toBe(3);

    // Read at scrape time, and gone once untracked.
    inflight = 7;
    expect(value(await scrape(m), 'plugin_inflight', { plugin: 'stats' })).toBe(7);
    m.untrack('stats');
    expect(value(await scrape(m), 'plugin_inflight', { plugin: 'stats' })).toBeUndefined();
  });

  it('declares each metric with its type', async () => {
    const exposition = await new HostMetrics().text();
    const types = Object.fromEntries(
      exposition
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.slice('# TYPE '.length).split(' ')),
    );
    expect(types).toEqual({
      plugin_load_total: 'counter',
      plugin_load_duration_seconds: 'histogram',
      plugin_call_total: 'counter',
      plugin_call_duration_seconds: 'histogram',
      plugin_restarts_total: 'counter',
      plugin_host_call_total: 'counter',
      plugin_host_call_duration_seconds: 'histogram',
      plugin_up: 'gauge',
      plugin_inflight: 'gauge',
    });
  });

  it('a recorder bound to a plugin counts into the same series as recordCall', async () => {
    const m = new HostMetrics();
    const record = m.recorder('crc32');
    record('crc32', 'ok', 40e-9);
    m.recordCall('crc32', 'crc32', 'ok', 40e-9);
    record('crc32', 'PLUGHOST_INVALID_ARGUMENT', 1e-6);
    const s = await scrape(m);
    expect(value(s, 'plugin_call_total', { plugin: 'crc32', method: 'crc32', status: 'ok' })).toBe(2);
    expect(value(s, 'plugin_call_total', { plugin: 'crc32', method: 'crc32', status: 'PLUGHOST_INVALID_ARGUMENT' })).toBe(1);
    expect(value(s, 'plugin_call_duration_seconds_bucket', { plugin: 'crc32', method: 'crc32', le: '0.000001' })).toBe(3);
  });

  it('keeps its metrics in its own registry: two instances never collide, the global registry stays empty', async () => {
    const a = new HostMetrics();
    const b = new HostMetrics();
    expect(a.registry).not.toBe(b.registry);
    expect(a.registry).not.toBe(globalRegistry);
    a.recordCall('p', 'm', 'ok', 1e-3);
    a.recordRestart('p');
    b.recordCall('p', 'm', 'ok', 1e-3);
    b.recordCall('p', 'm', 'ok', 1e-3);
    const sa = await scrape(a);
    const sb = await scrape(b);
    expect(value(sa, 'plugin_call_total', { plugin: 'p', method: 'm', status: 'ok' })).toBe(1);
    expect(value(sb, 'plugin_call_total', { plugin: 'p', method: 'm', status: 'ok' })).toBe(2);
    expect(value(sa, 'plugin_restarts_total', { plugin: 'p' })).toBe(1);
    expect(value(sb, 'plugin_restarts_total', { plugin: 'p' })).toBeUndefined();
    expect(globalRegistry.getSingleMetric('plugin_call_total')).toBeUndefined();
    expect(globalRegistry.getSingleMetric('plugin_up')).toBeUndefined();
  });

  it('works with prom-client’s JSON view and resetMetrics()', async () => {
    const m = new HostMetrics();
    m.recordCall('p', 'm', 'ok', 2e-6);
    m.recordCall('p', 'm', 'E', 2e-6);
    const json = await m.registry.getMetricsAsJSON();
    const calls = json.find((x) => x.name === 'plugin_call_total');
    expect(calls?.values).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { plugin: 'p', method: 'm', status: 'ok' }, value: 1 }),
        expect.objectContaining({ labels: { plugin: 'p', method: 'm', status: 'E' }, value: 1 }),
      ]),
    );
    m.registry.resetMetrics();
    const s = await scrape(m);
    expect(value(s, 'plugin_call_total', { plugin: 'p', method: 'm', status: 'ok' })).toBeUndefined();
    expect(value(s, 'plugin_call_duration_seconds_count', { plugin: 'p', method: 'm' })).toBeUndefined();
    m.recorder('p')('m', 'ok', 2e-6); // a recorder made before or after a reset keeps working
    expect(value(await scrape(m), 'plugin_call_total', { plugin: 'p', method: 'm', status: 'ok' })).toBe(1);
  });

  it('serve() answers GET /metrics over HTTP, 404 elsewhere, and closes', async () => {
    const m = new HostMetrics();
    m.recordCall('p', 'm', 'ok', 1e-4);
    const server = await m.serve({ port: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(m.registry.contentType);
      const body = await res.text();
      expect(value(parse(body), 'plugin_call_total', { plugin: 'p', method: 'm', status: 'ok' })).toBe(1);

      const withQuery = await fetch(`${server.url}?x=1`);
      expect(withQuery.status).toBe(200);
      await withQuery.text();
      const other = await fetch(new URL('/', server.url));
      expect(other.status).toBe(404);
      await other.text();
      const nested = await fetch(new URL('/metrics/x', server.url));
      expect(nested.status).toBe(404);
      await nested.text();
      const post = await fetch(server.url, { method: 'POST' });
      expect(post.status).toBe(405);
      await post.text();
    } finally {
      await server.close();
    }
    await expect(fetch(server.url)).rejects.toThrow();
    await server.close(); // twice is fine
  });
});

describe('a dynamic plugin with an observer feeding HostMetrics', () => {
  let plugin: DynamicPlugin | undefined;
  afterEach(async () => {
    await plugin?.close();
    plugin = undefined;
  });

  it('counts calls and batch items by status, a crash as a restart, and toggles up', async () => {
    const metrics = new HostMetrics();
    const feed = metrics.dynamicObserver('fixture');
    const ups: boolean[] = [];
    let restarts = 0;
    const observer: DynamicPluginObserver = {
      onCall: feed.onCall,
      onRestart: () => {
        restarts++;
        feed.onRestart?.();
      },
      onUp: (up) => {
        ups.push(up);
        feed.onUp?.(up);
      },
    };
    const p = await DynamicPlugin.start(fixturePlugin({}, { observer, restart: { initialBackoffMs: 20 } }), silentLogger);
    plugin = p;
    metrics.trackInflight('fixture', () => p.inFlight);
    expect(ups).toEqual([true]);
    expect(value(await scrape(metrics), 'plugin_up', { plugin: 'fixture', kind: 'dynamic' })).toBe(1);

    expect(text(await p.call('echo', bytes('a')))).toBe('a');
    expect(text(await p.call('echo', bytes('b')))).toBe('b');
    const failed = await rejection(p.call('fail', bytes('x')));
    expect(failed.code).toBe('FIXTURE_FAILED');
    const items = await p.batch('fail', [bytes('1'), bytes('2')]);
    expect(items.map((i) => (i instanceof Error ? (i as PlughostError).code : 'ok'))).toEqual(['FIXTURE_FAILED', 'FIXTURE_FAILED']);
    await p.batch('echo', [bytes('1'), bytes('2'), bytes('3')]);

    // In flight, read at scrape time.
    const sleeping = p.call('sleep', bytes('300'));
    await waitFor(() => p.inFlight === 1, 2_000, 'the sleep call to be in flight');
    expect(value(await scrape(metrics), 'plugin_inflight', { plugin: 'fixture' })).toBe(1);
    await sleeping;
    expect(p.inFlight).toBe(0);

    let s = await scrape(metrics);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'echo', status: 'ok' })).toBe(5);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'fail', status: 'FIXTURE_FAILED' })).toBe(3);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'sleep', status: 'ok' })).toBe(1);
    expect(value(s, 'plugin_call_duration_seconds_count', { plugin: 'fixture', method: 'echo' })).toBe(5);
    // The sleep took at least 300 ms and well under 10 s.
    expect(value(s, 'plugin_call_duration_seconds_bucket', { plugin: 'fixture', method: 'sleep', le: '0.25' })).toBe(0);
    expect(value(s, 'plugin_call_duration_seconds_bucket', { plugin: 'fixture', method: 'sleep', le: '10' })).toBe(1);
    expect(value(s, 'plugin_inflight', { plugin: 'fixture' })).toBe(0);

    // A crash: the call fails with the crash's code, the plugin goes down, restarts, comes back up.
    const pid = p.pids()[0];
    const crashed = await rejection(p.call('crash', bytes('')));
    expect(crashed.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    await waitFor(() => restarts === 1, 10_000, 'the restart');
    expect(ups).toEqual([true, false, true]);
    expect(p.pids()[0]).not.toBe(pid);
    expect(text(await p.call('echo', bytes('back')))).toBe('back');

    s = await scrape(metrics);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'crash', status: 'PLUGHOST_PLUGIN_CRASHED' })).toBe(1);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'echo', status: 'ok' })).toBe(6);
    expect(value(s, 'plugin_restarts_total', { plugin: 'fixture' })).toBe(1);
    expect(value(s, 'plugin_up', { plugin: 'fixture', kind: 'dynamic' })).toBe(1);

    await p.close();
    expect(ups).toEqual([true, false, true, false]);
    expect(value(await scrape(metrics), 'plugin_up', { plugin: 'fixture', kind: 'dynamic' })).toBe(0);
    // Calls on a closed plugin are counted too.
    expect((await rejection(p.call('echo', bytes('late')))).code).toBe('PLUGHOST_PLUGIN_CLOSED');
    expect(value(await scrape(metrics), 'plugin_call_total', { plugin: 'fixture', method: 'echo', status: 'PLUGHOST_PLUGIN_CLOSED' })).toBe(1);
  });

  it('goes down for good when the plugin is given up on', async () => {
    const ups: boolean[] = [];
    const p = await DynamicPlugin.start(
      fixturePlugin({}, { observer: { onUp: (up) => ups.push(up) }, restart: { maxRestarts: 0, initialBackoffMs: 10 } }),
      silentLogger,
    );
    plugin = p;
    await rejection(p.call('crash', bytes('')));
    expect((await rejection(p.call('echo', bytes('x')))).code).toBe('PLUGHOST_PLUGIN_UNAVAILABLE');
    expect(ups).toEqual([true, false]);
    await p.close();
    expect(ups).toEqual([true, false]);
  });

  it('a throwing observer does not change a call’s outcome', async () => {
    const boom = (): never => {
      throw new Error('observer bug');
    };
    const p = await DynamicPlugin.start(fixturePlugin({}, { observer: { onCall: boom, onUp: boom, onRestart: boom } }), silentLogger);
    plugin = p;
    expect(text(await p.call('echo', bytes('fine')))).toBe('fine');
    expect((await rejection(p.call('fail', bytes('x')))).code).toBe('FIXTURE_FAILED');
    const items = await p.batch('echo', [bytes('1')]);
    expect(text(items[0] as Uint8Array)).toBe('1');
  });

  it('is fed through createHost().loadDynamic() too', async () => {
    const metrics = new HostMetrics();
    const host = createHost({ buildId: 'metrics-tests', logger: silentLogger });
    try {
      const p = await host.loadDynamic(fixturePlugin({}, { observer: metrics.dynamicObserver('fixture') }));
      await Promise.all([p.call('echo', bytes('1')), p.call('echo', bytes('2')), p.call('echo', bytes('3'))]); // auto-batched on the wire, counted per call
      const s = await scrape(metrics);
      expect(value(s, 'plugin_call_total', { plugin: 'fixture', method: 'echo', status: 'ok' })).toBe(3);
      expect(value(s, 'plugin_up', { plugin: 'fixture', kind: 'dynamic' })).toBe(1);
    } finally {
      await host.close();
    }
    expect(value(await scrape(metrics), 'plugin_up', { plugin: 'fixture', kind: 'dynamic' })).toBe(0);
  });
});

describe('instrumentNative', () => {
  const fx = inject('nativeFixtures');
  type Good = { hello: () => string; add: (a: unknown, b?: unknown) => number };

  it('times and counts each call of a native plugin, and rethrows its errors unchanged', async () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative<Good>(path.join(fx.built, 'good.node'));
    const metrics = new HostMetrics();
    const calls: Array<[string, string, number]> = [];
    const record = metrics.recorder(plugin.name);
    const methods = instrumentNative(plugin, (method, status, seconds) => {
      calls.push([method, status, seconds]);
      record(method, status, seconds);
    });

    expect(Object.keys(methods)).toEqual(['hello', 'add']);
    expect(Object.isFrozen(methods)).toBe(true);
    expect(methods.hello.name).toBe('hello');
    expect(methods.hello()).toBe('hello from fixture-good');
    expect(methods.add(2, 40)).toBe(42);

    // The plugin's own error, as the plain method throws it.
    let plain: unknown;
    try {
      plugin.methods.add('x');
    } catch (err) {
      plain = err;
    }
    let wrapped: unknown;
    try {
      methods.add('x');
    } catch (err) {
      wrapped = err;
    }
    expect(wrapped).toBeInstanceOf(Error);
    expect(wrapped).toMatchObject({ code: 'PLUGHOST_INVALID_ARGUMENT', message: (plain as Error).message });
    expect(Object.getPrototypeOf(wrapped)).toBe(Object.getPrototypeOf(plain));
    // Too few arguments reach the plugin as too few (argc is not padded).
    expect(() => methods.add(1)).toThrow(expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }));

    expect(calls.map(([m, st]) => [m, st])).toEqual([
      ['hello', 'ok'],
      ['add', 'ok'],
      ['add', 'PLUGHOST_INVALID_ARGUMENT'],
      ['add', 'PLUGHOST_INVALID_ARGUMENT'],
    ]);
    for (const [, , seconds] of calls) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThan(1);
    }
    const s = await scrape(metrics);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture-good', method: 'hello', status: 'ok' })).toBe(1);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture-good', method: 'add', status: 'ok' })).toBe(1);
    expect(value(s, 'plugin_call_total', { plugin: 'fixture-good', method: 'add', status: 'PLUGHOST_INVALID_ARGUMENT' })).toBe(2);
    expect(value(s, 'plugin_call_duration_seconds_count', { plugin: 'fixture-good', method: 'add' })).toBe(3);

    // Opt-in: the plugin's own methods are untouched and still its native functions.
    expect(Function.prototype.toString.call(plugin.methods.add)).toContain('[native code]');
    expect(plugin.methods.add).not.toBe(methods.add);
  });

  it('passes the error through even when the recorder throws', () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative<Good>(path.join(fx.built, 'good.node'));
    const methods = instrumentNative(plugin, () => {
      throw new Error('recorder bug');
    });
    expect(() => methods.add('x')).toThrow(expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }));
  });
});
