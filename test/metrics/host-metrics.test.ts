// The host's own metrics: loads, calls, restarts, up and in-flight, for both
// kinds, and the /metrics endpoint.
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { createHost, type Host } from '../../src/index.js';
import { bytes, capturingLogger, fixturePlugin, rejection, root, waitFor } from '../dynamic/support.js';

const fx = inject('nativeFixtures');
let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

const value = (text: string, metric: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(labels));
  return line === undefined ? NaN : Number(line.split(' ').pop());
};

describe('host.metrics()', () => {
  it('counts dynamic loads, calls by status, restarts, up and in-flight', async () => {
    const h = createHost({ buildId: fx.buildId, logger: capturingLogger() });
    hosts.push(h);
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 5 } }));
    await plugin.call('echo', bytes('a'));
    await plugin.call('echo', bytes('b'));
    await rejection(plugin.call('fail', bytes('c')));
    await rejection(plugin.call('crash', bytes('')));
    await waitFor(() => plugin.stats().restarts === 1, 5000, 'the restart');
    const text = await h.metrics().text();
    expect(value(text, 'plugin_load_total', 'plugin="fixture",kind="dynamic",status="loaded"')).toBe(1);
    expect(value(text, 'plugin_call_total', 'plugin="fixture",method="echo",status="ok"')).toBe(2);
    expect(value(text, 'plugin_call_total', 'method="fail",status="FIXTURE_FAILED"')).toBe(1);
    expect(value(text, 'plugin_call_total', 'method="crash",status="PLUGHOST_PLUGIN_CRASHED"')).toBe(1);
    expect(value(text, 'plugin_restarts_total', 'plugin="fixture"')).toBe(1);
    expect(value(text, 'plugin_up', 'plugin="fixture"')).toBe(1);
    expect(value(text, 'plugin_inflight', 'plugin="fixture"')).toBe(0);
    expect(text).toContain('plugin_call_duration_seconds_bucket{');
  });

  it('counts native loads and refusals; instruments native calls only when asked', async () => {
    const h = createHost({ buildId: fx.buildId, logger: capturingLogger() });
    hosts.push(h);
    const plugin = h.loadNative<{ add(a: number, b: number): number }>(path.join(fx.built, 'good.node'));
    expect(() => h.loadNative(path.join(fx.built, 'wrong_build_id.node'))).toThrow();
    plugin.methods.add(1, 2); // raw: not counted
    const timed = h.instrument(plugin);
    expect(timed.add(2, 3)).toBe(5);
    const text = await h.metrics().text();
    expect(value(text, 'plugin_load_total', 'plugin="fixture-good",kind="native",status="loaded"')).toBe(1);
    expect(value(text, 'plugin_load_total', 'plugin="wrong_build_id",kind="native",status="refused"')).toBe(1);
    expect(value(text, 'plugin_call_total', 'plugin="fixture-good",method="add",status="ok"')).toBe(1);
    expect(value(text, 'plugin_up', 'plugin="fixture-good",kind="native"')).toBe(1);
  });

  it('with instrumentNative, portable calls of native plugins from the manifest are counted', async () => {
    const h = createHost({ manifest: root, instrumentNative: true, logger: capturingLogger() });
    hosts.push(h);
    const textstats = await h.load('textstats');
    await textstats.call('statsBytes', bytes('counted'));
    textstats.native!.methods.statsBytes(bytes('raw: not counted'));
    const text = await h.metrics().text();
    expect(value(text, 'plugin_call_total', 'plugin="textstats",method="statsBytes",status="ok"')).toBe(1);
  });

  it('serves /metrics over HTTP', async () => {
    const h = createHost({ buildId: fx.buildId, logger: capturingLogger() });
    hosts.push(h);
    h.loadNative(path.join(fx.built, 'good.node'));
    const server = await h.metrics().serve();
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('plugin_load_total{plugin="fixture-good"');
    } finally {
      await server.close();
    }
  });
});
