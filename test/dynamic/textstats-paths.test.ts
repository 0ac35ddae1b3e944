// One workload on every path: the native textstats in-process, and the
// TypeScript and Python textstats as subprocess plugins, through the host.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHost, type DynamicPlugin, type Host, type NativePlugin } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { capturingLogger, dist, rejection, root } from './support.js';
import { builtPlugins } from '../support/built.js';

let host: Host;
let native: NativePlugin<{ statsBytes(d: Uint8Array): Uint8Array }>;
let ts: DynamicPlugin;
let py: DynamicPlugin;

beforeAll(async () => {
  const info = builtPlugins(root);
  host = createHost({ buildId: info.buildId, logger: capturingLogger() });
  native = host.loadNative(info.file('textstats'));
  [ts, py] = await Promise.all([
    host.loadDynamic({ name: 'textstats-ts', command: [process.execPath, dist('plugins-dynamic/textstats-ts/textstats.js')] }),
    host.loadDynamic({ name: 'textstats-py', command: [pythonWithGrpc(), path.join(root, 'plugins-dynamic/textstats-py/textstats.py')] }),
  ]);
});
afterAll(() => host.close());

const inputs = [
  '',
  'the quick brown fox jumps over the lazy dog. The DOG sleeps!\n',
  'café café Café — naïve 日本語 日本語\r\n\ttabs\tand\vvertical\f\n',
  '"quoted" \\back\\slash \u0001control\u001f --- ... !!!',
  Array.from({ length: 5000 }, (_, i) => `w${i % 97} `).join('') + '\n',
];

describe('textstats on three paths', () => {
  it.each(inputs.map((s, i) => [i, s]))('input %i gives byte-identical output natively, in TypeScript and in Python', async (_i, input) => {
    const payload = Buffer.from(input);
    const expected = Buffer.from(native.methods.statsBytes(payload));
    const [fromTs, fromPy] = await Promise.all([ts.call('statsBytes', payload), py.call('statsBytes', payload)]);
    expect(Buffer.from(fromTs).toString()).toBe(expected.toString());
    expect(Buffer.from(fromPy).toString()).toBe(expected.toString());
  });

  it('refuses invalid UTF-8 with the same code everywhere', async () => {
    const bad = Uint8Array.of(0x61, 0xc0, 0x80);
    let nativeCode: string | undefined;
    try {
      native.methods.statsBytes(bad);
    } catch (err) {
      nativeCode = (err as { code?: string }).code;
    }
    expect(nativeCode).toBe('PLUGHOST_INVALID_ARGUMENT');
    expect((await rejection(ts.call('statsBytes', bad))).code).toBe(nativeCode);
    expect((await rejection(py.call('statsBytes', bad))).code).toBe(nativeCode);
  });

  it('batches through both subprocess plugins', async () => {
    const payloads = inputs.map((s) => Buffer.from(s));
    const expected = payloads.map((p) => Buffer.from(native.methods.statsBytes(p)).toString());
    for (const plugin of [ts, py]) {
      const out = await plugin.batch('statsBytes', payloads);
      expect(out.map((r) => Buffer.from(r as Uint8Array).toString())).toEqual(expected);
    }
  });
});
