// The native fault corpus as a test: 300 byte flips and 50 truncations of a
// real, pinned plugin. Pinned, every one is refused before any of its code
// runs; unpinned, the reader and verifier (which never load) answer each with
// a result or a typed error — never a RangeError, a hang or a crash.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, inject, it } from 'vitest';

import { createHost, PlughostError } from '../../src/index.js';
import { inspectNative, verifyNative } from '../../src/tools.js';
import { prng } from '../support/prng.js';

const fx = inject('nativeFixtures');
let tmp: string;
let good: Buffer;

const variants: Array<{ name: string; bytes: Buffer }> = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-corpus-'));
  good = fs.readFileSync(path.join(fx.built, 'good.node'));
  const random = prng(0x9e3779b9);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(good);
    // Half the flips in the headers and tables (first 4 KiB), where the reader looks.
    const at = Math.floor(random() * (i % 2 === 0 ? Math.min(4096, bytes.length) : bytes.length));
    bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
    variants.push({ name: `flip-${i}-at-${at}`, bytes });
  }
  for (let i = 0; i < 50; i++) {
    const length = Math.floor(random() * good.length);
    variants.push({ name: `truncated-${i}-to-${length}`, bytes: good.subarray(0, length) });
  }
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('refuses every flipped or truncated copy of a pinned plugin before it runs, with a typed error', () => {
  const pin = createHash('sha256').update(good).digest('hex');
  const host = createHost({ buildId: fx.buildId, manifest: false });
  const codes = new Map<string, number>();
  for (const v of variants) {
    const file = path.join(tmp, `${v.name}.node`);
    fs.writeFileSync(file, v.bytes);
    let code: string;
    try {
      host.loadNative(file, { sha256: pin });
      code = 'LOADED';
    } catch (err) {
      expect(err, `${v.name}: ${String(err)}`).toBeInstanceOf(PlughostError);
      code = (err as PlughostError).code;
    }
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  expect(codes.has('LOADED')).toBe(false);
  expect(host.stats().loads.refused).toBe(variants.length);
  expect(host.stats().loads.loaded).toBe(0);
  // The pin is the last check: many variants fail earlier, typed by what is wrong.
  expect(codes.get('PLUGHOST_CHECKSUM_MISMATCH')).toBeGreaterThan(0);
  expect(codes.size).toBeGreaterThan(2);
});

it('reads and verifies every variant without loading it: a result or a typed error, nothing else', () => {
  for (const v of variants) {
    const file = path.join(tmp, `${v.name}.node`);
    fs.writeFileSync(file, v.bytes);
    for (const check of [() => inspectNative(file), () => verifyNative(file, { buildId: fx.buildId })]) {
      try {
        check();
      } catch (err) {
        expect(err, `${v.name}: ${String(err)}`).toBeInstanceOf(PlughostError);
      }
    }
  }
});
