// `npm run demo`: both plugin paths from one manifest. Verifies and loads
// crc32 and textstats in-process, textstats as TypeScript and Python
// subprocess plugins and as an isolated native plugin, runs one workload on
// every path, prints the measured trade-off, and shows crashes contained and
// bad plugins refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHost, PlughostError, silentLogger, type Plugin } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const started = performance.now();
const step = (text: string): void => void process.stdout.write(`\n== ${text}\n`);
const line = (text: string): void => void process.stdout.write(`   ${text}\n`);
const ms = (t0: number): number => performance.now() - t0;

if (!fs.existsSync(path.join(root, 'manifest.json'))) {
  process.stderr.write('plughost demo: no manifest.json; run `npm run build` (npm install does)\n');
  process.exit(1);
}

// ---------------------------------------------------------------- load
const host = createHost({ manifest: root, logger: silentLogger });
step(`verify and load every plugin of build ${host.buildId} (manifest.json)`);
type Path = { label: string; plugin: Plugin; startMs: number; pid: number | null };
const paths: Path[] = [];
const load = async (label: string, name: string, isolate?: boolean): Promise<Plugin | null> => {
  const t0 = performance.now();
  try {
    const plugin = await host.load(name, isolate === undefined ? {} : { isolate });
    const startMs = ms(t0);
    paths.push({ label, plugin, startMs, pid: plugin.dynamic?.pids()[0] ?? null });
    line(`${label.padEnd(22)} ${plugin.name} ${plugin.version}: verified and ready in ${startMs.toFixed(1)} ms [${plugin.methods.join(', ')}]`);
    return plugin;
  } catch (err) {
    line(`${label.padEnd(22)} NOT LOADED: ${(err as Error).message}`);
    return null;
  }
};
const crc = (await host.load('crc32')).native!.methods as {
  crc32(d: Uint8Array): number;
  crc32Batch(p: Uint8Array, o: Uint32Array): Uint32Array;
};
line(`${'native (in-process)'.padEnd(22)} crc32: verified and loaded`);
await load('native (in-process)', 'textstats');
await load('native (isolated)', 'textstats', true);
await load('TypeScript subprocess', 'textstats-ts');
await load('Python subprocess', 'textstats-py');

// ---------------------------------------------------------------- workload
step('one workload on every path: textstats.statsBytes over 1 KiB chunks of a text');
const vocabulary = 'the quick brown fox jumps over a lazy dog while plughost verifies every plugin before loading it'.split(' ');
let seed = 7;
const words: string[] = [];
for (let size = 0, i = 0; size < 2 << 20; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const word = vocabulary[seed % vocabulary.length]! + (i % 13 === 12 ? '\n' : ' ');
  words.push(word);
  size += word.length;
}
const corpus = Buffer.from(words.join('')).subarray(0, 2 << 20);
const chunks = Array.from({ length: corpus.length / 1024 }, (_, i) => corpus.subarray(i * 1024, (i + 1) * 1024));

interface Row { label: string; perCallUs: number; batchedUs: number; startMs: number; rssMiB: number | null; same: boolean }
const rows: Row[] = [];
let reference: string[] | undefined;
for (const p of paths) {
  const sequential = chunks.slice(0, 300);
  // Warm up first (JIT in the host and in the plugin), as a long-running service would be.
  for (let i = 0; i < 2; i++) for (const c of sequential) await p.plugin.call('statsBytes', c);
  await p.plugin.batch('statsBytes', chunks);
  const t0 = performance.now();
  for (const c of sequential) await p.plugin.call('statsBytes', c);
  const perCallUs = (ms(t0) * 1000) / sequential.length;
  const t1 = performance.now();
  const out = await p.plugin.batch('statsBytes', chunks);
  const batchedUs = (ms(t1) * 1000) / chunks.length;
  const texts = out.map((o) => (o instanceof Uint8Array ? Buffer.from(o).toString() : `error ${o.code}`));
  reference ??= texts;
  rows.push({ label: p.label, perCallUs, batchedUs, startMs: p.startMs, rssMiB: p.pid === null ? null : rss(p.pid), same: texts.every((t, i) => t === reference![i]) });
}
const table = [
  ['path', 'per call', 'batched, per item', 'start-up', 'memory (RSS)', 'same output'],
  ...rows.map((r) => [
    r.label,
    `${r.perCallUs.toFixed(1)} µs`,
    `${r.batchedUs.toFixed(2)} µs`,
    `${r.startMs.toFixed(1)} ms`,
    r.rssMiB === null ? 'in the host' : `${r.rssMiB.toFixed(0)} MiB`,
    r.same ? 'yes' : 'NO',
  ]),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
for (const [i, r] of table.entries()) {
  line(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
  if (i === 0) line(widths.map((w) => '-'.repeat(w)).join('  '));
}
line(`(${chunks.length} chunks; after warm-up: per call = 300 sequential calls, batched = one batch() of all chunks)`);
const [batchCrc] = [crc.crc32Batch(corpus, Uint32Array.from({ length: corpus.length / 64 + 1 }, (_, i) => i * 64))];
line(`crc32 in-process: ${(corpus.length / 64)} CRCs of 64 B in one call, first ${batchCrc![0]!.toString(16)}; whole text ${crc.crc32(corpus).toString(16)}`);

// ---------------------------------------------------------------- crashes
step('crash containment, live');
for (const p of paths.filter((x) => x.pid !== null)) {
  const pid = p.plugin.dynamic!.pids()[0]!;
  const inFlight = Promise.all(chunks.slice(0, 50).map((c) => p.plugin.call('statsBytes', c)));
  process.kill(pid, 'SIGSEGV');
  let outcome = 'the in-flight calls finished first';
  try {
    await inFlight;
  } catch (err) {
    outcome = `in-flight calls failed with ${(err as PlughostError).code}`;
  }
  const t0 = performance.now();
  await p.plugin.call('statsBytes', Buffer.from('back'));
  line(`${p.label.padEnd(22)} SIGSEGV to pid ${pid}: ${outcome}; restarted (pid ${p.plugin.dynamic!.pids()[0]}) and answering again after ${ms(t0).toFixed(0)} ms`);
}
line('the host process is still running: a crash in an in-process plugin would have ended it');

// ---------------------------------------------------------------- refusals
step('what the host refuses before any plugin code runs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-demo-'));
const crcFile = path.join(root, host.list().find((p) => p.name === 'crc32')!.path);
const refuse = (label: string, fn: () => unknown): void => {
  try {
    fn();
    line(`${label}: NOT refused (unexpected)`);
    process.exitCode = 1;
  } catch (err) {
    if (!(err instanceof PlughostError)) throw err;
    line(`${label}: ${err.code}\n     ${err.message}`);
  }
};
refuse('a plugin from another build', () => createHost({ buildId: 'release-2.0', logger: silentLogger }).loadNative(crcFile));
const cut = path.join(tmp, 'crc32-truncated.node');
fs.writeFileSync(cut, fs.readFileSync(crcFile).subarray(0, 3000));
refuse('a truncated copy', () => createHost({ buildId: host.buildId, logger: silentLogger }).loadNative(cut));
refuse('a wrong SHA-256 pin', () => {
  const copy = path.join(tmp, 'crc32-copy.node');
  fs.copyFileSync(crcFile, copy);
  return createHost({ buildId: host.buildId, logger: silentLogger }).loadNative(copy, { sha256: 'f'.repeat(64) });
});
fs.rmSync(tmp, { recursive: true, force: true });

await host.close();
step('done');
line(`finished in ${(ms(started) / 1000).toFixed(1)} s. Full measurements: npm run bench (plughost bench)`);

function rss(pid: number): number | null {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return null;
  }
}
