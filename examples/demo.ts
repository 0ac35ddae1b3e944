// `npm run demo`: the compiled path end to end — verify and load the example
// plugins, run one workload through them, and show what the host refuses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHost, PluginCrashedError, PlughostError, silentLogger, type DynamicPlugin } from '../src/index.js';
import { pythonWithGrpc } from '../src/dynamic/python.js';

type Crc32 = {
  crc32(data: Uint8Array, seed?: number): number;
  crc32Batch(packed: Uint8Array, offsets: Uint32Array): Uint32Array;
};
type TextStats = {
  stats(text: Uint8Array, options?: { topK?: number }): { bytes: number; lines: number; words: number; top: [string, number][] };
  statsBytes(text: Uint8Array): Uint8Array;
  fail(message: string): never;
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const started = performance.now();
const step = (text: string): void => void process.stdout.write(`\n== ${text}\n`);
const line = (text: string): void => void process.stdout.write(`   ${text}\n`);

const infoFile = path.join(root, 'dist/build-info.json');
if (!fs.existsSync(infoFile)) {
  process.stderr.write('plughost demo: plugins are not built; run `npm run build` (npm install does it)\n');
  process.exit(1);
}
const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { buildId: string; plugins: { name: string; file: string }[] };
const pluginFile = (name: string): string => path.join(root, info.plugins.find((p) => p.name === name)!.file);

step(`verify and load (build ${info.buildId})`);
const host = createHost({ buildId: info.buildId });
const crc = host.loadNative<Crc32>(pluginFile('crc32'));
const text = host.loadNative<TextStats>(pluginFile('textstats'));
for (const [plugin, event] of [crc, text].map((p, i) => [p, host.stats().events[i]!] as const)) {
  line(
    `${plugin.name} ${plugin.version}: ${plugin.methodNames.join(', ')} — verified in ${event.verifyMs!.toFixed(2)} ms, ` +
      `loaded in ${event.dlopenMs!.toFixed(2)} ms`,
  );
}

step('one workload: a 4 MiB text');
const vocabulary = 'the quick brown fox jumps over a lazy dog while plughost verifies every plugin before loading it'.split(' ');
let seed = 7;
const words: string[] = [];
for (let size = 0, i = 0; size < 4 << 20; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const word = vocabulary[seed % vocabulary.length]! + (i % 13 === 12 ? '\n' : ' ');
  words.push(word);
  size += word.length;
}
const corpus = Buffer.from(words.join('')).subarray(0, 4 << 20);
const time = <T>(fn: () => T): [T, number] => {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
};

const [whole, crcMs] = time(() => crc.methods.crc32(corpus));
line(`crc32 of ${(corpus.length / 2 ** 20).toFixed(0)} MiB: ${whole.toString(16).padStart(8, '0')} in ${crcMs.toFixed(2)} ms (${(corpus.length / crcMs / 1e6).toFixed(2)} GB/s)`);
const [jsWhole, jsMs] = time(() => jsCrc32(corpus));
line(`same in plain JS: ${jsWhole.toString(16).padStart(8, '0')} in ${jsMs.toFixed(2)} ms — native is ${(jsMs / crcMs).toFixed(0)}x faster, same result: ${jsWhole === whole}`);

const messages = Math.floor(corpus.length / 64);
const offsets = Uint32Array.from({ length: messages + 1 }, (_, i) => i * 64);
const [perCall, loopMs] = time(() => {
  const out = new Uint32Array(messages);
  for (let i = 0; i < messages; i++) out[i] = crc.methods.crc32(corpus.subarray(i * 64, i * 64 + 64));
  return out;
});
const [batched, batchMs] = time(() => crc.methods.crc32Batch(corpus, offsets));
line(`${messages} messages of 64 B: one call each ${((loopMs * 1e6) / messages).toFixed(0)} ns/msg, ` +
  `one batch call ${((batchMs * 1e6) / messages).toFixed(1)} ns/msg (${(loopMs / batchMs).toFixed(0)}x), equal: ${Buffer.from(perCall.buffer).equals(Buffer.from(batched.buffer))}`);

const [stats, statsMs] = time(() => text.methods.stats(corpus, { topK: 3 }));
line(`textstats: ${stats.lines} lines, ${stats.words} words, top ${stats.top.map(([w, n]) => `${w}×${n}`).join(' ')} in ${statsMs.toFixed(1)} ms`);

step('the same textstats as subprocess plugins (TypeScript, Python)');
const dynamicHost = createHost({ buildId: info.buildId, logger: silentLogger });
const subprocessPlugins: Array<[string, DynamicPlugin]> = [];
const tsPlugin = await dynamicHost.loadDynamic({
  name: 'textstats-ts',
  command: [process.execPath, path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js')],
  restart: { initialBackoffMs: 20 },
});
subprocessPlugins.push(['TypeScript', tsPlugin]);
try {
  subprocessPlugins.push(['Python', await dynamicHost.loadDynamic({
    name: 'textstats-py',
    command: [pythonWithGrpc(), path.join(root, 'plugins-dynamic/textstats-py/textstats.py')],
  })]);
} catch (err) {
  line(`Python plugin skipped: ${(err as Error).message}`);
}
const chunks = Array.from({ length: 2000 }, (_, i) => corpus.subarray(i * 1024, i * 1024 + 1024));
const [nativeOut, nativeMs] = time(() => chunks.map((c) => Buffer.from(text.methods.statsBytes(c)).toString()));
line(`native    : ${chunks.length} chunks of 1 KiB in ${nativeMs.toFixed(1)} ms (${((nativeMs * 1000) / chunks.length).toFixed(1)} µs/chunk, in-process)`);
for (const [label, plugin] of subprocessPlugins) {
  const t0 = performance.now();
  const out = await Promise.all(chunks.map((c) => plugin.call('statsBytes', c)));
  const ms = performance.now() - t0;
  const same = out.every((o, i) => Buffer.from(o).toString() === nativeOut[i]);
  line(`${label.padEnd(10)}: same chunks in ${ms.toFixed(1)} ms (${((ms * 1000) / chunks.length).toFixed(1)} µs/chunk, auto-batched), ` +
    `started in ${plugin.readyMs[0]!.toFixed(0)} ms, output identical to native: ${same}`);
}

step('crash containment, live');
const victim = tsPlugin.pids()[0]!;
const inFlight = Promise.all(chunks.slice(0, 50).map((c) => tsPlugin.call('statsBytes', c, { timeoutMs: 5000 })));
process.kill(victim, 'SIGKILL');
try {
  await inFlight;
  line('the calls in flight finished before the kill landed');
} catch (err) {
  line(`killed the TypeScript plugin (pid ${victim}) with SIGKILL: in-flight calls failed with ${(err as PlughostError).code}` +
    ` (${err instanceof PluginCrashedError ? 'PluginCrashedError' : (err as Error).name}), the host kept running`);
}
const recovered = await tsPlugin.call('statsBytes', Buffer.from('back on its feet'));
line(`next call answered by a restarted plugin (pid ${tsPlugin.pids()[0]}): ${Buffer.from(recovered).toString()}; restarts: ${tsPlugin.stats().restarts}`);
await dynamicHost.close();

step('what the host refuses (and survives)');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-demo-'));
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
refuse('a host of another release', () => createHost({ buildId: 'release-2.0' }).loadNative(pluginFile('crc32')));
const cut = path.join(tmp, 'crc32-truncated.node');
fs.writeFileSync(cut, fs.readFileSync(pluginFile('crc32')).subarray(0, 3000));
refuse('a truncated copy', () => host.loadNative(cut));
refuse('a wrong SHA-256 pin', () => {
  const copy = path.join(tmp, 'crc32-copy.node');
  fs.copyFileSync(pluginFile('crc32'), copy);
  return host.loadNative(copy, { sha256: 'f'.repeat(64) });
});
try {
  text.methods.fail('a C++ exception inside the plugin');
} catch (err) {
  line(`a C++ exception in a method: JS ${(err as Error).name} with code ${(err as { code?: string }).code}: ${(err as Error).message}`);
}
fs.rmSync(tmp, { recursive: true, force: true });

const { loads } = host.stats();
step('done');
line(`loads: ${loads.loaded} loaded, ${loads.cached} cached, ${loads.refused} refused, ${loads.failed} failed; ` +
  `the host is still serving: crc32("ok") = ${crc.methods.crc32(Buffer.from('ok')).toString(16)}`);
line(`finished in ${((performance.now() - started) / 1000).toFixed(2)} s. Measured numbers: npm run bench`);

function jsCrc32(data: Uint8Array): number {
  const table = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
