// A soak: 20,000 calls to a pool of two instances while instances are
// SIGKILLed at random. Every call must settle — its own echo, or a typed
// error saying the plugin crashed, restarted or was unavailable — none
// lost, none answered with another call's payload, and the pool must end
// up healthy, restarted as many times as it was killed.
import { afterAll, expect, it } from 'vitest';

import { createHost, PlughostError, silentLogger, type Host } from '../../src/index.js';
import { fixturePlugin, text, waitFor } from '../dynamic/support.js';
import { prng } from '../support/prng.js';

const CALLS = 20_000;
const CONCURRENCY = 64;
const KILLS = 80;
const hosts: Host[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});

it(`settles every one of ${CALLS} calls while ${KILLS} instances are SIGKILLed`, async () => {
  const host = createHost({ buildId: 'soak', manifest: false, logger: silentLogger });
  hosts.push(host);
  const plugin = await host.loadDynamic(
    fixturePlugin({}, { name: 'soak', pool: 2, restart: { maxRestarts: 10 * KILLS, windowMs: 60_000, initialBackoffMs: 1, maxBackoffMs: 20 } }),
  );
  const random = prng(0x5eed);
  const killAt = new Set(Array.from({ length: KILLS }, (_, i) => Math.floor(((i + random()) * CALLS) / KILLS)));
  const outcomes = { ok: 0, typed: new Map<string, number>() };
  let kills = 0;
  let next = 0;

  async function worker(): Promise<void> {
    while (next < CALLS) {
      const i = next++;
      if (killAt.has(i)) {
        const pids = plugin.pids();
        const victim = pids[Math.floor(random() * pids.length)];
        try {
          if (victim !== undefined) {
            process.kill(victim, 'SIGKILL');
            kills++;
          }
        } catch {
          // Already gone: it died to an earlier kill and is not yet replaced.
        }
      }
      const payload = `call-${i}`;
      try {
        const answer = text(await plugin.call('echo', Buffer.from(payload), { timeoutMs: 10_000 }));
        expect(answer).toBe(payload);
        outcomes.ok++;
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(PlughostError);
        const code = (err as PlughostError).code;
        outcomes.typed.set(code, (outcomes.typed.get(code) ?? 0) + 1);
      }
    }
  }

  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  const failed = [...outcomes.typed.values()].reduce((a, b) => a + b, 0);
  expect(outcomes.ok + failed).toBe(CALLS);
  // A kill fails at most the calls then in flight on that instance.
  expect(failed).toBeLessThanOrEqual(kills * CONCURRENCY);
  expect([...outcomes.typed.keys()].every((c) => /^PLUGHOST_(PLUGIN_CRASHED|PLUGIN_UNAVAILABLE|TRANSPORT_ERROR|DEADLINE_EXCEEDED)$/.test(c)), JSON.stringify([...outcomes.typed])).toBe(true);
  expect(plugin.inFlight).toBe(0);
  expect(kills).toBeGreaterThanOrEqual(KILLS / 2);
  await waitFor(() => plugin.stats().instances.every((s) => s.state === 'ready'), 10_000, 'both instances ready again');
  // A pid killed twice before it was reaped restarts once.
  expect(plugin.stats().restarts).toBeLessThanOrEqual(kills);
  expect(plugin.stats().restarts).toBeGreaterThan(kills / 2);
  expect(text(await plugin.call('echo', Buffer.from('after')))).toBe('after');
}, 120_000);
