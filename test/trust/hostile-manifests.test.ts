// Hostile manifests: each is refused with a typed error before any plugin
// code runs: no hang (a FIFO), no stack overflow (deep nesting), no
// unbounded read (a huge file), no escape from the deploy directory (paths
// are refused by the schema already; a symlink out is in the registry
// tests), no prototype pollution.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHost, PlughostError, silentLogger } from '../../src/index.js';

let tmp: string;
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const SCRIPT = 'process.exit(0)\n';
const entry = (over: Record<string, unknown>): Record<string, unknown> => ({
  name: 'p', kind: 'dynamic', version: '1.0.0', path: 'p.js', sha256: sha(SCRIPT), methods: ['m'], command: ['node', '{path}'], ...over,
});
const manifest = (plugins: unknown[], over: Record<string, unknown> = {}): string => JSON.stringify({ schemaVersion: 1, buildId: 'hostile', plugins, ...over });

/** name, manifest.json content (or a writer), the code createHost or load must refuse it with. */
const cases: Array<{ what: string; write: (file: string) => void; code: string; at: 'create' | 'load' }> = [
  { what: 'not JSON', write: (f) => fs.writeFileSync(f, '{ nope'), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a JSON array', write: (f) => fs.writeFileSync(f, '[]'), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'nested 200,000 deep', write: (f) => fs.writeFileSync(f, '['.repeat(200_000) + ']'.repeat(200_000)), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: '17 MiB of whitespace', write: (f) => fs.writeFileSync(f, ' '.repeat(17 * 1024 * 1024)), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a FIFO', write: (f) => execFileSync('mkfifo', [f]), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'another schema version', write: (f) => fs.writeFileSync(f, manifest([entry({})], { schemaVersion: 2 })), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'an unknown kind', write: (f) => fs.writeFileSync(f, manifest([entry({ kind: 'wasm' })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a pin that is not hex', write: (f) => fs.writeFileSync(f, manifest([entry({ sha256: 'zz' })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a command that is not strings', write: (f) => fs.writeFileSync(f, manifest([entry({ command: ['node', 42] })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'duplicate names', write: (f) => fs.writeFileSync(f, manifest([entry({}), entry({})])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a path out of the deploy (..)', write: (f) => fs.writeFileSync(f, manifest([entry({ path: '../outside.js' })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'an absolute path', write: (f) => fs.writeFileSync(f, manifest([entry({ path: '/bin/sh' })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a pinned file out of the deploy', write: (f) => fs.writeFileSync(f, manifest([entry({ files: [{ path: '../../etc/passwd', sha256: sha('x') }] })])), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
  { what: 'a path that is a FIFO', write: (f) => { fs.writeFileSync(f, manifest([entry({ path: 'fifo.js' })])); execFileSync('mkfifo', [path.join(path.dirname(f), 'fifo.js')]); }, code: 'PLUGHOST_NOT_A_FILE', at: 'load' },
  { what: 'a prototype-polluting key', write: (f) => fs.writeFileSync(f, `{"__proto__":{"polluted":true},"schemaVersion":1,"buildId":"hostile","plugins":[${JSON.stringify(entry({ sha256: sha('other') }))}]}`), code: 'PLUGHOST_MANIFEST_INVALID', at: 'create' },
];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-hostile-'));
  fs.writeFileSync(path.join(tmp, 'outside.js'), SCRIPT);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a hostile manifest', () => {
  for (const c of cases) {
    it(`is refused as ${c.code}: ${c.what}`, async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'deploy-'));
      fs.writeFileSync(path.join(dir, 'p.js'), SCRIPT);
      const file = path.join(dir, 'manifest.json');
      c.write(file);
      let err: unknown;
      try {
        const host = createHost({ manifest: file, logger: silentLogger });
        expect(c.at, 'refused only when loading').toBe('load');
        try {
          await host.load('p');
        } finally {
          await host.close();
        }
      } catch (e) {
        err = e;
      }
      expect(err, String(err)).toBeInstanceOf(PlughostError);
      expect((err as PlughostError).code, String(err)).toBe(c.code);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }
});
