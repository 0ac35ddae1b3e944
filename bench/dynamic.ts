// `npm run bench -- dynamic`: what a call to a subprocess plugin costs, on
// each path, against a raw length-prefixed Unix-socket echo as the floor.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHost, silentLogger, type DynamicPlugin, type DynamicPluginOptions } from '../src/index.js';
import { openConnection } from '../src/dynamic/connection.js';
import { startPluginProcess } from '../src/dynamic/process.js';
import { pythonWithGrpc } from '../src/dynamic/python.js';
import { DEFAULT_MAX_MESSAGE_BYTES, PLUGHOST_COOKIE } from '../src/protocol/handshake.js';
import { median, printTable } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const payload = Buffer.alloc(16, 7);

export interface DynamicBenchResult {
  readonly bench: 'dynamic';
  readonly machine: Record<string, unknown>;
  readonly floorP50Us: number;
  readonly floorP99Us: number;
  readonly unaryP50Us: number;
  readonly unaryP99Us: number;
  readonly streamCallP50Us: number;
  readonly streamCallP99Us: number;
  readonly batchPerItemUs: number;
  readonly autoBatchCallsPerSec: number;
  readonly tsReadyMs: number;
  readonly pythonReadyMs: number | null;
  readonly tsIdleRssMiB: number;
  readonly pythonIdleRssMiB: number | null;
  readonly targets: Record<string, { target: string; met: boolean }>;
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function timeSequential(n: number, op: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(2000, n); i++) await op(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return samples;
}

/** The floor: the same 16 bytes through a length-prefixed echo in another process. */
export async function floorEcho(n: number): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-floor-'));
  const sock = path.join(dir, 'echo.sock');
  const server = fork(path.join(here, 'echo-server.js'), [sock], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve) => server.once('message', resolve));
  const client = net.createConnection(sock);
  await new Promise((resolve) => client.once('connect', resolve));
  client.setNoDelay(true);
  let pending: (() => void) | undefined;
  let buffered: Buffer = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32LE(0)) {
      buffered = buffered.subarray(4 + buffered.readUInt32LE(0));
      const done = pending;
      pending = undefined;
      done?.();
    }
  });
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, 4);
  const samples = await timeSequential(n, () => new Promise<void>((resolve) => {
    pending = resolve;
    client.write(frame);
  }));
  client.destroy();
  server.kill();
  fs.rmSync(dir, { recursive: true, force: true });
  return samples;
}

/** Unary `Call` RPCs, one per call: what a naive grpc-js client would do. */
async function unaryCalls(n: number, command: string[]): Promise<number[]> {
  const proc = await startPluginProcess({
    name: 'bench-unary',
    command,
    cookie: PLUGHOST_COOKIE,
    appVersions: [1],
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    handshakeTimeoutMs: 10_000,
    logger: silentLogger,
  });
  const conn = openConnection(proc.handshake, DEFAULT_MAX_MESSAGE_BYTES);
  const call = (): Promise<void> =>
    new Promise((resolve, reject) => conn.plugin.Call({ method: 'echo', payload }, (err: Error | null) => (err ? reject(err) : resolve())));
  const samples = await timeSequential(n, call);
  conn.close();
  proc.kill('SIGKILL');
  await proc.exited;
  proc.cleanup();
  return samples;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function readyAndRss(host: ReturnType<typeof createHost>, options: DynamicPluginOptions, starts: number): Promise<{ readyMs: number; rssMiB: number }> {
  const ready: number[] = [];
  let rss = 0;
  for (let i = 0; i < starts; i++) {
    const plugin = await host.loadDynamic(options);
    ready.push(plugin.readyMs[0]!);
    if (i === starts - 1) {
      await new Promise((r) => setTimeout(r, 300)); // let start-up garbage settle
      rss = rssMiB(plugin.pids()[0]!);
    }
    await plugin.close();
  }
  return { readyMs: median(ready), rssMiB: rss };
}

export async function runDynamicBench(opts: { quick?: boolean; log: (s: string) => void }): Promise<DynamicBenchResult> {
  const n = opts.quick ? 2000 : 10_000;
  const tsCommand = [process.execPath, path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js')];
  const host = createHost({ buildId: 'bench', logger: silentLogger });
  try {
    opts.log('floor: raw Unix-socket echo ...');
    const floor = await floorEcho(n);
    opts.log('unary gRPC calls ...');
    const unary = await unaryCalls(n, tsCommand);

    const plugin: DynamicPlugin = await host.loadDynamic({ name: 'textstats-ts', command: tsCommand });
    opts.log('calls on the multiplexed channel ...');
    const stream = await timeSequential(n, () => plugin.call('echo', payload));
    opts.log('explicit batches of 256 ...');
    const batchSize = 256;
    const batchPayloads = Array.from({ length: batchSize }, () => payload);
    const batches = await timeSequential(opts.quick ? 200 : 1000, () => plugin.batch('echo', batchPayloads));
    opts.log('auto-batched concurrent calls ...');
    const autoBatch = await throughput(plugin, opts.quick ? 500 : 2000);
    await plugin.close();

    opts.log('start-up and memory ...');
    const ts = await readyAndRss(host, { name: 'textstats-ts', command: tsCommand }, opts.quick ? 3 : 7);
    let py: { readyMs: number; rssMiB: number } | null = null;
    try {
      const python = pythonWithGrpc();
      py = await readyAndRss(host, { name: 'textstats-py', command: [python, path.join(root, 'plugins-dynamic/textstats-py/textstats.py')] }, opts.quick ? 3 : 7);
    } catch (err) {
      opts.log(`python plugin skipped: ${(err as Error).message}`);
    }

    const result: DynamicBenchResult = {
      bench: 'dynamic',
      machine: { node: process.version, arch: process.arch, cpus: os.cpus().length, cpu: os.cpus()[0]?.model },
      floorP50Us: percentile(floor, 50),
      floorP99Us: percentile(floor, 99),
      unaryP50Us: percentile(unary, 50),
      unaryP99Us: percentile(unary, 99),
      streamCallP50Us: percentile(stream, 50),
      streamCallP99Us: percentile(stream, 99),
      batchPerItemUs: percentile(batches, 50) / batchSize,
      autoBatchCallsPerSec: autoBatch,
      tsReadyMs: ts.readyMs,
      pythonReadyMs: py?.readyMs ?? null,
      tsIdleRssMiB: ts.rssMiB,
      pythonIdleRssMiB: py?.rssMiB ?? null,
      targets: {},
    };
    return {
      ...result,
      targets: {
        streamCallP50Us: { target: '<= 60', met: result.streamCallP50Us <= 60 },
        autoBatchCallsPerSec: { target: '>= 300000', met: result.autoBatchCallsPerSec >= 300_000 },
        tsReadyMs: { target: '<= 180', met: result.tsReadyMs <= 180 },
      },
    };
  } finally {
    await host.close();
  }
}

/** Calls/s with `concurrency` callers, each issuing its next call as soon as its last returns (after a 300 ms warm-up). */
export async function throughput(target: { call(method: string, payload: Uint8Array): Promise<Uint8Array> }, concurrency: number, ms = 1500): Promise<number> {
  const run = async (duration: number): Promise<number> => {
    let calls = 0;
    const until = performance.now() + duration;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          await target.call('echo', payload);
          calls++;
        }
      }),
    );
    return calls / (duration / 1000);
  };
  await run(300);
  return run(ms);
}

export function printDynamicBench(r: DynamicBenchResult): void {
  const us = (v: number): string => `${v.toFixed(1)} µs`;
  printTable('Per call, 16-byte payload, sequential (p50 / p99)', ['path', 'p50', 'p99', 'x floor'], [
    ['floor: raw length-prefixed Unix-socket echo', us(r.floorP50Us), us(r.floorP99Us), '1.0'],
    ['gRPC unary Call per call', us(r.unaryP50Us), us(r.unaryP99Us), (r.unaryP50Us / r.floorP50Us).toFixed(1)],
    ['call on the multiplexed Channel stream', us(r.streamCallP50Us), us(r.streamCallP99Us), (r.streamCallP50Us / r.floorP50Us).toFixed(1)],
    ['explicit batch of 256, per item', us(r.batchPerItemUs), '', (r.batchPerItemUs / r.floorP50Us).toFixed(2)],
  ]);
  printTable('Throughput and start-up', ['measure', 'value', 'target', 'met'], [
    ['auto-batched concurrent calls', `${Math.round(r.autoBatchCallsPerSec).toLocaleString('en-US')} calls/s`, r.targets.autoBatchCallsPerSec!.target, yes(r.targets.autoBatchCallsPerSec!.met)],
    ['TypeScript plugin spawn -> ready (median)', `${r.tsReadyMs.toFixed(0)} ms`, r.targets.tsReadyMs!.target, yes(r.targets.tsReadyMs!.met)],
    ['Python plugin spawn -> ready (median)', r.pythonReadyMs === null ? 'n/a' : `${r.pythonReadyMs.toFixed(0)} ms`, '', ''],
    ['TypeScript plugin idle RSS', `${r.tsIdleRssMiB.toFixed(1)} MiB`, '', ''],
    ['Python plugin idle RSS', r.pythonIdleRssMiB === null ? 'n/a' : `${r.pythonIdleRssMiB.toFixed(1)} MiB`, '', ''],
    ['Channel call p50', us(r.streamCallP50Us), r.targets.streamCallP50Us!.target, yes(r.targets.streamCallP50Us!.met)],
  ]);
}

const yes = (met: boolean): string => (met ? 'yes' : 'NO');
