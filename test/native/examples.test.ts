// The example plugins as a user gets them: built by `plughost build`, found
// through its manifest.json, verified and loaded by the host.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { createHost, type NativePlugin } from '../../src/index.js';
import { builtPlugins, type Built } from '../support/built.js';

const root = path.resolve(import.meta.dirname, '../..');
let info: Built;
let crc: NativePlugin<{ crc32(d: Uint8Array, seed?: number): number; crc32Batch(p: Uint8Array, o: Uint32Array): Uint32Array }>;
let text: NativePlugin<{ statsBytes(d: Uint8Array): Uint8Array; fail(m: string): never }>;

beforeAll(async () => {
  info = builtPlugins(root);
  const host = createHost({ buildId: info.buildId });
  crc = host.loadNative(info.file('crc32'));
  text = host.loadNative(info.file('textstats'));
});

describe('example plugins through the host', () => {
  it('carry the build ID they were built with and their declared methods', () => {
    expect(crc.descriptor.buildId).toBe(info.buildId);
    expect(text.descriptor.buildId).toBe(info.buildId);
    expect(crc.methodNames).toEqual(['crc32', 'crc32Batch']);
    expect(text.methodNames).toEqual(['stats', 'statsBytes', 'fail']);
  });

  it('compute the same results as called directly', () => {
    expect(crc.methods.crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const packed = Buffer.from('hello world!');
    expect([...crc.methods.crc32Batch(packed, Uint32Array.of(0, 5, 12))]).toEqual([
      crc.methods.crc32(packed.subarray(0, 5)),
      crc.methods.crc32(packed.subarray(5)),
    ]);
    const out = Buffer.from(text.methods.statsBytes(Buffer.from('a b a\n'))).toString();
    expect(JSON.parse(out)).toEqual({ bytes: 6, lines: 1, words: 3, top: [['a', 2], ['b', 1]] });
  });

  it('turn a C++ exception into a JS error with a code, and keep serving', () => {
    expect(() => text.methods.fail('boom')).toThrow(expect.objectContaining({ message: 'boom', code: 'PLUGHOST_PLUGIN_EXCEPTION' }));
    expect(crc.methods.crc32(Buffer.alloc(0))).toBe(0);
  });
});
