// `npm run bench -- native`: what a call into a native plugin costs, through
// the host and raw, against plain JS; batching; throughput; load+verify.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHost } from '../src/index.js';
import { verifyNative } from '../src/tools.js';
import { readManifest } from '../src/manifest/load.js';
import { HostMetrics } from '../src/metrics/host-metrics.js';
import { instrumentNative } from '../src/metrics/index.js';
import { compare, formatNs, median, printTable, type Measurement } from './measure.js';

type Crc32 = {
  crc32(data: Uint8Array, seed?: number): number;
  crc32Batch(packed: Uint8Array | Uint8Array[], offsets?: Uint32Array): Uint32Array;
};

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

function random(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** First-load cost must be measured in fresh processes: a process loads a file once. */
function loadTimes(file: string, buildId: string, samples: number): { raw: number; host: number; verify: number; dlopen: number } {
  const probe = path.join(here, 'native-load-probe.js');
  const raw: number[] = [];
  const host: number[] = [];
  const verify: number[] = [];
  const dlopen: number[] = [];
  for (let i = 0; i < samples; i++) {
    const r = JSON.parse(execFileSync(process.execPath, [probe, 'raw', file, buildId], { encoding: 'utf8' }));
    const h = JSON.parse(execFileSync(process.execPath, [probe, 'host', file, buildId], { encoding: 'utf8' }));
    raw.push(r.totalMs);
    host.push(h.totalMs);
    verify.push(h.verifyMs);
    dlopen.push(h.dlopenMs);
  }
  return { raw: median(raw), host: median(host), verify: median(verify), dlopen: median(dlopen) };
}

export interface NativeBenchResult {
  readonly bench: 'native';
  readonly machine: Record<string, unknown>;
  readonly results: Measurement[];
  readonly hostOverRaw: number;
  /** instrumentNative wrapper feeding a HostMetrics recorder, over the raw N-API call. */
  readonly instrumentedOverRaw: number;
  /** What the instrumentation adds to one call, in ns (instrumented minus host). */
  readonly instrumentationNsPerCall: number;
  readonly batchSpeedup64B: number;
  readonly batchArraySpeedup64B: number;
  readonly nativeOverCrc32Npm64KiB: number;
  readonly throughputGiBps64KiB: { native: number; crc32Npm: number };
  readonly load: { rawFirstLoadMs: number; hostFirstLoadMs: number; verifyMs: number; dlopenMs: number; verifyOnlyMs: number };
  readonly targets: Record<string, { target: string; met: boolean }>;
}

export function runNativeBench(opts: { quick?: boolean; log: (s: string) => void }): NativeBenchResult {
  const root = path.resolve(here, '../..');
  // manifest.json is the record of the last `plughost build`.
  const info = fs.existsSync(path.join(root, 'manifest.json')) ? readManifest(root).manifest : undefined;
  const crcEntry = info?.plugins.find((p) => p.name === 'crc32');
  if (info === undefined || crcEntry?.path === undefined) {
    throw new Error('crc32 is not built: run `npm run build` first');
  }
  const file = path.resolve(root, crcEntry.path);
  const CRC32npm = require('crc-32') as { buf(data: Uint8Array, seed?: number): number };
  const rounds = opts.quick ? 5 : 15;

  // (b) raw: the module loaded directly, no verification, no host.
  const rawModule = { exports: {} as Crc32 };
  process.dlopen(rawModule, file);
  const raw = rawModule.exports;
  // (c) the same method handed out by the host.
  const crcPlugin = createHost({ buildId: info.buildId }).loadNative<Crc32>(file);
  const viaHost = crcPlugin.methods;
  // (d) opt-in metrics: the same method timed and counted into a HostMetrics.
  const metrics = new HostMetrics();
  const instrumented = instrumentNative(crcPlugin, metrics.recorder(crcPlugin.name));

  opts.log('per-call cost (crc32 of 16 bytes) ...');
  const small = random(16, 1);
  const jsAdd = (a: number, b: number): number => a + b;
  const perCall = compare(
    [
      { name: 'plain JS function (a + b)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) s = jsAdd(s, i); return s; } },
      { name: 'crc-32 npm (JS), 16 B', run: (n) => { let s = 0; for (let i = 0; i < n; i++) s ^= CRC32npm.buf(small); return s; } },
      { name: 'raw N-API crc32, 16 B', run: (n) => { const f = raw.crc32; let s = 0; for (let i = 0; i < n; i++) s ^= f(small); return s; } },
      { name: 'host crc32, 16 B', run: (n) => { const f = viaHost.crc32; let s = 0; for (let i = 0; i < n; i++) s ^= f(small); return s; } },
      { name: 'host crc32, instrumented, 16 B', run: (n) => { const f = instrumented.crc32; let s = 0; for (let i = 0; i < n; i++) s ^= f(small); return s; } },
    ],
    { rounds },
  );

  opts.log('batching 64-byte messages ...');
  const count = 4096;
  const messageSize = 64;
  const packed = random(count * messageSize, 2);
  const offsets = new Uint32Array(count + 1).map((_, i) => i * messageSize);
  const messages = Array.from({ length: count }, (_, i) => packed.subarray(i * messageSize, (i + 1) * messageSize));
  const batch = compare(
    [
      { name: 'crc32 per call, 64 B', itemsPerOp: count, run: (n) => { let s = 0; for (let k = 0; k < n; k++) for (const m of messages) s ^= viaHost.crc32(m); return s; } },
      { name: 'crc32Batch packed+offsets, 64 B', itemsPerOp: count, run: (n) => { let s = 0; for (let k = 0; k < n; k++) s ^= viaHost.crc32Batch(packed, offsets)[0]!; return s; } },
      { name: 'crc32Batch array of buffers, 64 B', itemsPerOp: count, run: (n) => { let s = 0; for (let k = 0; k < n; k++) s ^= viaHost.crc32Batch(messages)[0]!; return s; } },
      { name: 'crc-32 npm per call, 64 B', itemsPerOp: count, run: (n) => { let s = 0; for (let k = 0; k < n; k++) for (const m of messages) s ^= CRC32npm.buf(m); return s; } },
    ],
    { rounds },
  );

  opts.log('throughput on 64 KiB buffers ...');
  const big = random(64 * 1024, 3);
  const throughput = compare(
    [
      { name: 'host crc32, 64 KiB', run: (n) => { let s = 0; for (let i = 0; i < n; i++) s ^= viaHost.crc32(big); return s; } },
      { name: 'crc-32 npm, 64 KiB', run: (n) => { let s = 0; for (let i = 0; i < n; i++) s ^= CRC32npm.buf(big); return s; } },
    ],
    { rounds },
  );

  opts.log('load + verify in fresh processes ...');
  const load = loadTimes(file, info.buildId, opts.quick ? 3 : 9);
  const verifySamples: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    verifyNative(file, { buildId: info.buildId });
    verifySamples.push(performance.now() - t0);
  }

  const by = (rows: Measurement[], name: string): Measurement => rows.find((r) => r.name === name)!;
  const hostOverRaw = by(perCall, 'host crc32, 16 B').nsPerOp / by(perCall, 'raw N-API crc32, 16 B').nsPerOp;
  const instrumentedOverRaw = by(perCall, 'host crc32, instrumented, 16 B').nsPerOp / by(perCall, 'raw N-API crc32, 16 B').nsPerOp;
  const instrumentationNsPerCall = by(perCall, 'host crc32, instrumented, 16 B').nsPerOp - by(perCall, 'host crc32, 16 B').nsPerOp;
  const perCall64 = by(batch, 'crc32 per call, 64 B').nsPerItem;
  const batchSpeedup64B = perCall64 / by(batch, 'crc32Batch packed+offsets, 64 B').nsPerItem;
  const batchArraySpeedup64B = perCall64 / by(batch, 'crc32Batch array of buffers, 64 B').nsPerItem;
  const nativeBig = by(throughput, 'host crc32, 64 KiB').nsPerOp;
  const npmBig = by(throughput, 'crc-32 npm, 64 KiB').nsPerOp;
  const gibps = (ns: number): number => big.length / ns / 1.073741824;

  return {
    bench: 'native',
    machine: { node: process.version, arch: process.arch, cpus: os.cpus().length, cpu: os.cpus()[0]?.model },
    results: [...perCall, ...batch, ...throughput],
    hostOverRaw,
    instrumentedOverRaw,
    instrumentationNsPerCall,
    batchSpeedup64B,
    batchArraySpeedup64B,
    nativeOverCrc32Npm64KiB: npmBig / nativeBig,
    throughputGiBps64KiB: { native: gibps(nativeBig), crc32Npm: gibps(npmBig) },
    load: {
      rawFirstLoadMs: load.raw,
      hostFirstLoadMs: load.host,
      verifyMs: load.verify,
      dlopenMs: load.dlopen,
      verifyOnlyMs: median(verifySamples),
    },
    targets: {
      hostOverRaw: { target: '<= 1.05', met: hostOverRaw <= 1.05 },
      batchSpeedup64B: { target: '>= 5', met: batchSpeedup64B >= 5 },
      nativeOverCrc32Npm64KiB: { target: '>= 5', met: npmBig / nativeBig >= 5 },
    },
  };
}

export function printNativeBench(r: NativeBenchResult): void {
  const rows = (names: string[], per: 'op' | 'item') =>
    r.results
      .filter((m) => names.some((n) => m.name.includes(n)))
      .map((m) => [m.name, formatNs(per === 'op' ? m.nsPerOp : m.nsPerItem)]);
  printTable('Per call (median of interleaved rounds)', ['contender', 'per call'], rows(['plain JS', '16 B'], 'op'));
  printTable('Batching, 4096 messages of 64 B', ['contender', 'per message'], rows(['64 B'], 'item'));
  printTable('Throughput, 64 KiB buffer', ['contender', 'per buffer'], rows(['64 KiB'], 'op'));
  printTable('Loading crc32 (first load, fresh process, median)', ['step', 'time'], [
    ['raw process.dlopen', `${r.load.rawFirstLoadMs.toFixed(3)} ms`],
    ['host: open + read + verify', `${r.load.verifyMs.toFixed(3)} ms`],
    ['host: dlopen + init + cross-check', `${r.load.dlopenMs.toFixed(3)} ms`],
    ['host: total', `${r.load.hostFirstLoadMs.toFixed(3)} ms`],
    ['verify only (in process, warm)', `${r.load.verifyOnlyMs.toFixed(3)} ms`],
  ]);
  printTable('Ratios', ['ratio', 'value', 'target', 'met'], [
    ['host / raw N-API per call', r.hostOverRaw.toFixed(3), r.targets.hostOverRaw!.target, yes(r.targets.hostOverRaw!.met)],
    [`instrumented / raw N-API per call (+${formatNs(r.instrumentationNsPerCall)})`, r.instrumentedOverRaw.toFixed(3), '', ''],
    ['per-call / batch (packed), 64 B', r.batchSpeedup64B.toFixed(1), r.targets.batchSpeedup64B!.target, yes(r.targets.batchSpeedup64B!.met)],
    ['per-call / batch (array), 64 B', r.batchArraySpeedup64B.toFixed(1), '', ''],
    ['crc-32 npm / native, 64 KiB', r.nativeOverCrc32Npm64KiB.toFixed(1), r.targets.nativeOverCrc32Npm64KiB!.target, yes(r.targets.nativeOverCrc32Npm64KiB!.met)],
    ['native GiB/s, 64 KiB', r.throughputGiBps64KiB.native.toFixed(2), '', ''],
    ['crc-32 npm GiB/s, 64 KiB', r.throughputGiBps64KiB.crc32Npm.toFixed(2), '', ''],
  ]);
}

const yes = (met: boolean): string => (met ? 'yes' : 'NO');
