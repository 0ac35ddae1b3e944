// Bounded memory from plugin output: a log line keeps at most 64 KiB (then a
// "… [truncated N bytes]" marker) and is never held whole, noise before the
// handshake is counted rather than kept, and the stderr tail errors quote is
// bounded too.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createHost, type Host, type PlughostError } from '../../src/index.js';
import { MAX_LINE_BYTES } from '../../src/dynamic/bounded-lines.js';
import { capturingLogger } from '../dynamic/support.js';

const root = path.resolve(import.meta.dirname, '../..');
const loud = [process.execPath, path.join(root, 'test/fixtures/trust/loud.mjs')];
let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

/** A host in its own process (so its peak RSS is its own) loads `loud` with this env; returns what it logged and its peak RSS. */
function hostRun(env: Record<string, string>): { maxRssMiB: number; longest: number; records: number; marker: string | undefined } {
  const script = `
    import { createHost } from ${JSON.stringify(path.join(root, 'dist/src/index.js'))};
    let longest = 0, records = 0, marker;
    const logger = { log(level, message) {
      records++;
      longest = Math.max(longest, message.length);
      if (message.includes('[truncated')) marker = message.slice(-40);
    } };
    const host = createHost({ buildId: 'loud', logger });
    const plugin = await host.loadDynamic({ name: 'loud', command: ${JSON.stringify(loud)}, env: ${JSON.stringify(env)}, handshakeTimeoutMs: 60000 });
    await plugin.call('echo', new Uint8Array(1));
    await host.close();
    process.stdout.write(JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024, longest, records, marker }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`the host process failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout) as ReturnType<typeof hostRun>;
}

describe('plugin output costs the host bounded memory', () => {
  it('a 100 MB stderr line becomes one truncated record, and the host grows by far less than the line', () => {
    const quiet = hostRun({ FIXTURE_STDERR_LINE_MB: '1' });
    const big = hostRun({ FIXTURE_STDERR_LINE_MB: '100' });
    console.log(`host peak RSS: ${quiet.maxRssMiB.toFixed(0)} MiB with a 1 MB line, ${big.maxRssMiB.toFixed(0)} MiB with a 100 MB line`);
    expect(big.longest).toBeLessThan(MAX_LINE_BYTES + 64);
    expect(big.marker).toMatch(/… \[truncated \d+ bytes\]$/);
    expect(Number(/truncated (\d+) bytes/.exec(big.marker!)![1])).toBe(100 * 1024 * 1024 - MAX_LINE_BYTES);
    // Bounded, not proportional: about 30 MiB of read buffers awaiting GC, the same for a 300 MB line.
    expect(big.maxRssMiB - quiet.maxRssMiB).toBeLessThan(64);
  });

  it('noise before the handshake is counted, the first lines logged, the rest not kept', async () => {
    const log = capturingLogger();
    const host = createHost({ buildId: 'loud', logger: log });
    hosts.push(host);
    const err = (await host
      .loadDynamic({ name: 'loud', command: loud, env: { FIXTURE_NOISE_LINES: '200000', FIXTURE_NO_HANDSHAKE: '1' }, handshakeTimeoutMs: 4000 })
      .catch((e: unknown) => e)) as PlughostError;
    expect(err.code).toBe('PLUGHOST_HANDSHAKE_TIMEOUT');
    expect(err.found).toBe('200000 other line(s), last: "noise 199999"');
    const noise = log.entries.filter((e) => e.message.includes('before its handshake'));
    expect(noise.length).toBe(21);
    expect(noise.at(-1)!.message).toContain('only counted');
  });

  it('the stderr tail an error quotes is bounded', async () => {
    const host = createHost({ buildId: 'loud', logger: capturingLogger() });
    hosts.push(host);
    const err = (await host
      .loadDynamic({ name: 'loud', command: loud, env: { FIXTURE_STDERR_LINE_MB: '2', FIXTURE_EXIT_CODE: '5' } })
      .catch((e: unknown) => e)) as PlughostError;
    expect(err.code).toBe('PLUGHOST_HANDSHAKE_EXITED');
    expect(err.found).toContain('the long line is done');
    expect(err.found).toContain('[truncated');
    expect(err.found!.length).toBeLessThan(5 * 4096 + 200);
  });
});

describe('long lines are split without being held', () => {
  it('keeps lines, CRLF and a last line without newline; cuts at the limit with the count', async () => {
    const { onBoundedLines } = await import('../../src/dynamic/bounded-lines.js');
    const { PassThrough } = await import('node:stream');
    const input = new PassThrough();
    const lines: string[] = [];
    onBoundedLines(input, 8, (l) => lines.push(l));
    input.write('ab\r\ncd\n0123');
    input.write('456789xyz\nlast');
    input.end();
    await new Promise((r) => input.on('end', r));
    expect(lines).toEqual(['ab', 'cd', '01234567… [truncated 5 bytes]', 'last']);
  });
});
