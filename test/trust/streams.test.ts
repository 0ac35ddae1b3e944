// Streams under load and misuse (issue 9, "Calls and streams"): per-stream
// flow control in the host and both SDKs (docs/protocol.md, "Flow control"),
// cancellation when the caller leaves `for await` early, the plugin's default
// deadline on streams, empty results as Uint8Arrays, and a 1 GiB stream in
// bounded memory. Real plugins (test/fixtures/trust/streams/plugin.mjs and
// plugin.py) over real gRPC; every host is closed, which stops its plugins.
import { spawn } from 'node:child_process';
import path from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type DynamicPluginOptions, type Host } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { STREAM_MESSAGE_OVERHEAD, STREAM_WINDOW_BYTES } from '../../src/protocol/flow.js';
import { bytes, rejection, root, text, waitFor } from '../dynamic/support.js';

const fixtures = path.join(root, 'test/fixtures/trust/streams');
const MESSAGE = 64 * 1024;
/** Messages of MESSAGE bytes one window lets through: sent while credit is above zero. */
const PER_WINDOW = Math.ceil(STREAM_WINDOW_BYTES / (MESSAGE + STREAM_MESSAGE_OVERHEAD));

let python: string;
beforeAll(() => {
  python = pythonWithGrpc();
});

const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

function host(): Host {
  const h = createHost({ buildId: 'streams-tests', logger: silentLogger });
  hosts.push(h);
  return h;
}

const command = {
  ts: (): string[] => [process.execPath, path.join(fixtures, 'plugin.mjs')],
  py: (): string[] => [python, path.join(fixtures, 'plugin.py')],
};

function load(kind: keyof typeof command, extra: Partial<DynamicPluginOptions> = {}) {
  return host().loadDynamic({ name: `streams-${kind}`, command: command[kind](), handshakeTimeoutMs: 10_000, ...extra });
}

interface Counters {
  produced: number;
  received: number;
  cancelled: number;
}
type Loaded = Awaited<ReturnType<typeof load>>;
const counters = async (plugin: Loaded): Promise<Counters> => JSON.parse(text(await plugin.call('counters', bytes(''), { timeoutMs: 10_000 }))) as Counters;
/** The plugin lets its other work run for a while (event-loop turns, GIL hand-overs), then reports: what could happen meanwhile has. */
const settle = async (plugin: Loaded): Promise<Counters> => JSON.parse(text(await plugin.call('settle', bytes('300'), { timeoutMs: 20_000 }))) as Counters;

async function until(plugin: Loaded, check: (c: Counters) => boolean, what: string): Promise<Counters> {
  let last: Counters | undefined;
  const poll = async (): Promise<boolean> => check((last = await counters(plugin)));
  let ok = await poll();
  // Polls the plugin's counters (each poll is a round trip), failing after 10 s.
  const deadline = Date.now() + 10_000;
  while (!ok && Date.now() < deadline) ok = await poll();
  if (!ok) throw new Error(`${what}: not reached; counters ${JSON.stringify(last)}`);
  return last!;
}

describe.each(['ts', 'py'] as const)('streams with the %s SDK', (kind) => {
  it('holds the plugin to the host\'s window while nobody reads, and cancels the call when the caller breaks out of for await', async () => {
    const plugin = await load(kind, { window: 2 });
    const stream = await plugin.stream('produce');
    // Nobody reads: the plugin sends one window and then waits for credit.
    await until(plugin, (c) => c.produced >= PER_WINDOW, 'the plugin produced a window');
    const held = await settle(plugin);
    expect(held.produced).toBeLessThanOrEqual(PER_WINDOW + 2);

    // Reading grants credit back: the plugin goes on.
    let read = 0;
    for await (const message of stream) {
      expect(message).toBeInstanceOf(Uint8Array);
      if (++read === PER_WINDOW + 10) break;
    }
    // Leaving the loop cancelled the call: nothing in flight...
    expect(plugin.inFlight).toBe(0);
    expect(plugin.stats().instances[0]!.inFlight).toBe(0);
    // ...its window slot is free again (with `window: 2`, a held slot and this idle stream would leave a call none)...
    const idle = await plugin.stream('idle');
    const after = await until(plugin, (c) => c.cancelled === 1, 'the plugin saw the cancel');
    idle.cancel();
    // ...and the plugin stopped producing.
    expect((await settle(plugin)).produced).toBe(after.produced);
    await until(plugin, (c) => c.cancelled === 2, 'the plugin saw the idle stream cancelled');
    expect(plugin.inFlight).toBe(0);
  });

  it('makes write() wait for the plugin\'s credit, and lets the rest through once the plugin reads', async () => {
    const plugin = await load(kind);
    const stream = await plugin.stream('hold');
    const n = 3 * PER_WINDOW;
    let sent = 0;
    const writes = Array.from({ length: n }, () => stream.write(new Uint8Array(MESSAGE)).then((ok) => (sent++, ok)));
    const ended = stream.end();
    await waitFor(() => sent >= PER_WINDOW, 10_000, 'a window of writes sent');
    await settle(plugin); // the plugin's credit frames, had it sent any, came before this answer
    expect(sent).toBeLessThanOrEqual(PER_WINDOW + 1);

    await plugin.call('release', bytes(''));
    expect(await Promise.all(writes)).toEqual(new Array(n).fill(true));
    expect(await ended).toBe(true);
    const out: string[] = [];
    for await (const m of stream) out.push(text(m));
    expect(out).toEqual([String(n)]);
    expect(plugin.inFlight).toBe(0);
  });

  it('applies callTimeoutMs, the plugin\'s default deadline, to streams', { timeout: 15_000 }, async () => {
    const plugin = await load(kind, { callTimeoutMs: 300 });
    const stream = await plugin.stream('idle');
    const err = await rejection(
      (async () => {
        for await (const _ of stream);
      })(),
    );
    expect(err.code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(plugin.inFlight).toBe(0);
    await until(plugin, (c) => c.cancelled === 1, 'the plugin saw the cancel');
  });

  it('returns an empty result as a Uint8Array from call, batch, micro-batched calls and streams', async () => {
    const plugin = await load(kind);
    const isEmptyBytes = (value: unknown): void => {
      expect(value).toBeInstanceOf(Uint8Array);
      expect((value as Uint8Array).length).toBe(0);
    };
    isEmptyBytes(await plugin.call('empty', bytes('')));
    isEmptyBytes(await plugin.call('empty', bytes(''), { timeoutMs: 5_000 })); // its own frame, not batched
    for (const item of await plugin.batch('empty', [bytes(''), bytes('x'), bytes('yy')])) isEmptyBytes(item);
    for (const item of await Promise.all(Array.from({ length: 8 }, () => plugin.call('empty', bytes(''))))) isEmptyBytes(item);
    const stream = await plugin.stream('emptyOut');
    void stream.end();
    const got: Uint8Array[] = [];
    for await (const m of stream) got.push(m);
    expect(got).toHaveLength(1);
    isEmptyBytes(got[0]);
  });

  it('streams a GiB through the plugin with the host\'s RSS growing by at most 200 MiB', { timeout: 120_000 }, async () => {
    const total = 1024 * 1024 * 1024;
    const child = spawn(process.execPath, [path.join(fixtures, 'big-stream.mjs'), JSON.stringify(command[kind]()), String(total), String(256 * 1024)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const m = JSON.parse(out) as { before: number; peak: number; maxRss: number; ms: number; received: number };
    expect(m.received).toBe(total);
    const growthMiB = (Math.max(m.peak, m.maxRss) - m.before) / (1024 * 1024);
    console.log(`${kind}: 1 GiB echoed in ${(m.ms / 1000).toFixed(1)} s; host RSS grew ${growthMiB.toFixed(0)} MiB`);
    expect(growthMiB).toBeLessThanOrEqual(200);
  });
});

describe('streams with a plugin from before flow control (no hello, no credit)', () => {
  it('still streams more than a window both ways', async () => {
    const plugin = await host().loadDynamic({
      name: 'streams-old',
      command: command.ts(),
      env: { FLOW: '0' },
      handshakeTimeoutMs: 10_000,
    });
    const stream = await plugin.stream('echo');
    const n = 3 * PER_WINDOW;
    const writes = Array.from({ length: n }, (_, i) => stream.write(new Uint8Array(MESSAGE).fill(i % 251)));
    void stream.end();
    let count = 0;
    for await (const m of stream) {
      expect(m[0]).toBe(count % 251);
      count++;
    }
    expect(count).toBe(n);
    expect(await Promise.all(writes)).toEqual(new Array(n).fill(true));
  });
  it('bounds what it can make the host buffer: past 64 MiB unread, the call is cancelled with a typed error', { timeout: 60_000 }, async () => {
    const plugin = await host().loadDynamic({ name: 'streams-old-flood', command: command.ts(), env: { FLOW: '0' }, handshakeTimeoutMs: 10_000 });
    const stream = await plugin.stream('produce');
    // Nobody reads: the host gives the call up once 64 MiB wait unread (1024 messages of 64 KiB).
    await waitFor(() => plugin.inFlight === 0, 30_000, 'the host to give the flooding stream up');
    expect((await counters(plugin)).produced).toBeGreaterThanOrEqual(1024);
    const err = await rejection((async () => {
      for await (const _ of stream) {
        // draining what was kept
      }
    })());
    expect(err.code).toBe('PLUGHOST_STREAM_OVERFLOW');
    expect(text(await plugin.call('empty', bytes(''))).length).toBe(0);
  });
});
