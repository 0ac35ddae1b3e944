// A dynamic plugin's file swapped by rename while host.load runs: what
// answers calls must be the pinned code, whenever the swap lands. Before,
// the file was hashed by path and started by path: the replacement ran,
// unpinned, in 12 to 14 of these 30 tries.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type Host, type PlughostError } from '../../src/index.js';

const TRIES = 30;
const sdk = path.resolve('dist/src/sdk/index.js');
let tmp: string;
const hosts: Host[] = [];

/** A plugin whose `who` answers `answer`; runnable as `node file` and as an executable (shebang). */
const source = (answer: string): string =>
  `#!${process.execPath}\nimport { serve } from ${JSON.stringify(sdk)};\n` +
  `await serve({ name: 'swap', version: '1.0.0', methods: { who: () => new TextEncoder().encode(${JSON.stringify(answer)}) } });\n`;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-swap-'));
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function tryOnce(i: number, command: string[]): Promise<'pinned' | 'refused' | 'unpinned'> {
  const dir = fs.mkdtempSync(path.join(tmp, `try-${i}-`));
  const file = path.join(dir, 'plugin.mjs');
  fs.writeFileSync(file, source('pinned'), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'evil.mjs'), source('unpinned'), { mode: 0o755 });
  const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ schemaVersion: 1, buildId: 'swap-test', plugins: [{ name: 'swap', kind: 'dynamic', version: '1.0.0', path: 'plugin.mjs', sha256, methods: ['who'], command }] }),
  );
  const host = createHost({ manifest: dir, logger: silentLogger });
  hosts.push(host);
  const loading = host.load('swap');
  // The swap lands somewhere in the load: spread over the first ~150 ms.
  const swapped = new Promise<void>((resolve) =>
    setTimeout(() => {
      fs.renameSync(path.join(dir, 'evil.mjs'), file);
      resolve();
    }, (i * 5) % 150),
  );
  try {
    const plugin = await loading;
    await swapped;
    const answer = Buffer.from(await plugin.call('who', new Uint8Array())).toString();
    return answer === 'pinned' ? 'pinned' : 'unpinned';
  } catch (err) {
    await swapped;
    expect((err as PlughostError).code, String(err)).toMatch(/^PLUGHOST_/);
    return 'refused';
  } finally {
    await host.close();
  }
}

describe('a dynamic plugin swapped by rename during host.load', () => {
  for (const [what, command] of [
    ['an executable entry ({path} is the program)', ['{path}']],
    ['an interpreted entry (node {path})', ['node', '{path}']],
  ] as const) {
    it(`never runs the replacement for ${what} (${TRIES} tries)`, async () => {
      const outcomes = { pinned: 0, refused: 0, unpinned: 0 };
      for (let i = 0; i < TRIES; i++) outcomes[await tryOnce(i, [...command])]++;
      expect(outcomes.unpinned).toBe(0);
      expect(outcomes.pinned + outcomes.refused).toBe(TRIES);
    }, 120_000);
  }
});

it('removes an executable plugin\'s private copy when the plugin is closed', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'close-'));
  const file = path.join(dir, 'plugin.mjs');
  fs.writeFileSync(file, source('pinned'), { mode: 0o755 });
  const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ schemaVersion: 1, buildId: 'swap-test', plugins: [{ name: 'swap', kind: 'dynamic', version: '1.0.0', path: 'plugin.mjs', sha256, methods: ['who'], command: ['{path}'] }] }),
  );
  const host = createHost({ manifest: dir, logger: silentLogger });
  hosts.push(host);
  const plugin = await host.load('swap');
  expect(Buffer.from(await plugin.call('who', new Uint8Array())).toString()).toBe('pinned');
  const copies = (): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('plughost-load-'));
  expect(copies()).toHaveLength(1);
  await host.close();
  expect(copies()).toEqual([]);
});

