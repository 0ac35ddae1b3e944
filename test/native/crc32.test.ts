// The crc32 example plugin, loaded raw (no host verification), checked
// against the `crc-32` package as the reference implementation.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import CRC32 from 'crc-32';
import { beforeAll, describe, expect, it } from 'vitest';

interface Crc32Plugin {
  crc32(data: ArrayBufferView, seed?: number): number;
  crc32Batch(packed: Uint8Array, offsets: Uint32Array): Uint32Array;
  crc32Batch(messages: ArrayBufferView[]): Uint32Array;
}

const pluginPath = path.resolve('build/Release/crc32.node');
let plugin: Crc32Plugin;
// Bad-input tests call through this to pass what the types forbid.
let loose: Record<'crc32' | 'crc32Batch', (...args: unknown[]) => unknown>;

beforeAll(() => {
  if (!existsSync(pluginPath)) {
    // `npx node-gyp rebuild --nodedir=/usr`, without npx, and with the headers
    // that sit beside the running node (/usr for a distribution package).
    const nodeGyp = path.resolve('node_modules/node-gyp/bin/node-gyp.js');
    const nodedir = path.resolve(path.dirname(process.execPath), '..');
    execFileSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], { stdio: 'inherit', timeout: 170_000 });
  }
  const mod = { exports: {} };
  process.dlopen(mod, pluginPath);
  plugin = mod.exports as Crc32Plugin;
  loose = mod.exports as typeof loose;
}, 180_000);

/** xorshift32: deterministic, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() & 0xff;
  return out;
}

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
const reference = (v: ArrayBufferView) => CRC32.buf(bytesOf(v)) >>> 0;
const hex = (n: number) => '0x' + n.toString(16).padStart(8, '0');

function expectInvalid(fn: () => unknown, message?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a throw').toBeInstanceOf(Error);
  expect(error).toMatchObject({ code: 'PLUGHOST_INVALID_ARGUMENT' });
  if (message) expect((error as Error).message).toMatch(message);
}

describe('crc32(data, seed?)', () => {
  it('matches the check values of CRC-32/ISO-HDLC', () => {
    const enc = new TextEncoder();
    expect(plugin.crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(plugin.crc32(enc.encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(plugin.crc32(new Uint8Array(0))).toBe(0);
    expect(plugin.crc32(Buffer.alloc(0))).toBe(0);
    // One zero byte, and 64 KiB of 0xff: both have the top bit set, so they
    // also show the result is unsigned.
    expect(plugin.crc32(new Uint8Array(1))).toBe(0xd202ef8d);
    expect(plugin.crc32(new Uint8Array(65536).fill(0xff))).toBe(reference(new Uint8Array(65536).fill(0xff)));
  });

  it('equals crc-32 for every length 0..300, at every alignment 0..7', () => {
    const rand = prng(0x1234);
    const backing = randomBytes(rand, 300 + 8);
    for (let offset = 0; offset < 8; offset++) {
      for (let n = 0; n <= 300; n++) {
        const data = backing.subarray(offset, offset + n);
        const got = plugin.crc32(data);
        if (got !== reference(data)) {
          expect(hex(got), `length ${n}, offset ${offset}`).toBe(hex(reference(data)));
        }
      }
    }
  });

  it('equals crc-32 for random lengths up to 1 MiB at random byte offsets into a larger buffer', () => {
    const rand = prng(0xc0ffee);
    const MiB = 1 << 20;
    const backing = randomBytes(rand, 2 * MiB + 64);
    const lengths = [MiB, MiB - 1, MiB + 1, 65536, 65537, 4096 + 13];
    for (let i = 0; i < 24; i++) lengths.push(rand() % (MiB + 1));
    for (const n of lengths) {
      const offset = rand() % (backing.length - n + 1);
      const data = new Uint8Array(backing.buffer, offset, n);
      expect(hex(plugin.crc32(data)), `length ${n}, offset ${offset}`).toBe(hex(reference(data)));
    }
  });

  it('hashes the bytes of any TypedArray view and Buffer, honouring byteOffset', () => {
    const rand = prng(77);
    const buffer = randomBytes(rand, 4096).buffer;
    const views: ArrayBufferView[] = [
      new Uint16Array(buffer, 2, 1000),
      new Int32Array(buffer, 4, 700),
      new Float64Array(buffer, 8, 300),
      new BigUint64Array(buffer, 16, 100),
      new Int8Array(buffer, 3, 999),
      new Uint8ClampedArray(buffer, 1, 77),
      Buffer.from(buffer, 5, 2000),
      Buffer.from('a pooled Buffer starts at a non-zero byteOffset'),
    ];
    for (const v of views) {
      expect(hex(plugin.crc32(v)), v.constructor.name).toBe(hex(reference(v)));
    }
  });

  it('continues from a seed: every split of a 200-byte buffer equals the one-shot CRC', () => {
    const data = randomBytes(prng(9), 200);
    const whole = plugin.crc32(data);
    expect(whole).toBe(reference(data));
    for (let k = 0; k <= data.length; k++) {
      const first = plugin.crc32(data.subarray(0, k));
      expect(hex(plugin.crc32(data.subarray(k), first)), `split at ${k}`).toBe(hex(whole));
    }
  });

  it('continues from a seed across large pieces and accepts the signed results crc-32 returns', () => {
    const rand = prng(10);
    const data = randomBytes(rand, 300_000);
    const cuts = [0, 1, 63, 64, 65, 1000, 70_001, 200_000, 300_000];
    let crc = 0;
    for (let i = 1; i < cuts.length; i++) crc = plugin.crc32(data.subarray(cuts[i - 1], cuts[i]), crc);
    expect(hex(crc)).toBe(hex(reference(data)));

    const signed = CRC32.buf(data.subarray(0, 1000)); // negative for half of all inputs
    const rest = data.subarray(1000, 5000);
    expect(plugin.crc32(rest, signed)).toBe(plugin.crc32(rest, signed >>> 0));
    expect(plugin.crc32(rest, signed)).toBe(reference(data.subarray(0, 5000)));
    expect(plugin.crc32(data, 0)).toBe(plugin.crc32(data));
    expect(plugin.crc32(new Uint8Array(0), 0xdeadbeef)).toBe(0xdeadbeef);
  });
});

describe('crc32Batch', () => {
  // Message lengths with plenty of zeros, short (table) and long (SIMD) ones.
  function messages(rand: () => number, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const kind = rand() % 10;
      const n = kind < 2 ? 0 : kind < 8 ? rand() % 100 : rand() % 5000;
      out.push(randomBytes(rand, n));
    }
    return out;
  }

  /** Packs messages after `lead` junk bytes; offsets[0] === lead. */
  function pack(list: Uint8Array[], lead = 0): { packed: Uint8Array; offsets: Uint32Array } {
    const offsets = new Uint32Array(list.length + 1);
    let at = lead;
    offsets[0] = at;
    list.forEach((m, i) => (offsets[i + 1] = at += m.length));
    const packed = new Uint8Array(at).fill(0xa5);
    list.forEach((m, i) => packed.set(m, offsets[i]));
    return { packed, offsets };
  }

  const perMessage = (list: ArrayBufferView[]) => Uint32Array.from(list, (m) => plugin.crc32(m));

  for (const count of [0, 1, 2, 10, 10_000]) {
    it(`equals per-message results for ${count} messages, packed and as an array`, () => {
      const list = messages(prng(count + 1), count);
      const expected = perMessage(list);
      list.forEach((m, i) => expect(expected[i]).toBe(reference(m)));

      const { packed, offsets } = pack(list, 3);
      const fromPacked = plugin.crc32Batch(packed, offsets);
      expect(fromPacked).toBeInstanceOf(Uint32Array);
      expect(fromPacked).toEqual(expected);

      const fromArray = plugin.crc32Batch(list);
      expect(fromArray).toBeInstanceOf(Uint32Array);
      expect(fromArray).toEqual(expected);
    });
  }

  it('handles all-empty messages, views with a byteOffset and Buffers', () => {
    const empty = pack([new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]);
    expect(plugin.crc32Batch(empty.packed, empty.offsets)).toEqual(new Uint32Array(3));

    const list = messages(prng(5), 50);
    const { packed, offsets } = pack(list);
    const big = new Uint8Array(packed.length + 7);
    big.set(packed, 7);
    const offsetBig = new Uint32Array(offsets.length + 1);
    offsetBig.set(offsets, 1);
    const shiftedPacked = big.subarray(7);
    const shiftedOffsets = offsetBig.subarray(1);
    expect(plugin.crc32Batch(shiftedPacked, shiftedOffsets)).toEqual(perMessage(list));
    expect(plugin.crc32Batch(Buffer.from(big.buffer, 7, packed.length), shiftedOffsets)).toEqual(perMessage(list));

    // The array form takes any view and reads its bytes, like crc32().
    const views = [Buffer.from('abc'), new Uint16Array([1, 2, 3]).subarray(1), new Float32Array(0)];
    expect(plugin.crc32Batch(views)).toEqual(Uint32Array.from(views, reference));
  });

  it('lets an exception thrown while reading the array propagate', () => {
    const list = [new Uint8Array(1)];
    Object.defineProperty(list, 1, {
      get() {
        throw new TypeError('boom');
      },
    });
    expect(() => plugin.crc32Batch(list)).toThrow('boom');
  });
});

describe('bad input throws PLUGHOST_INVALID_ARGUMENT', () => {
  it('crc32: data missing or not a TypedArray', () => {
    const notViews: unknown[] = [undefined, null, 'abc', 42, [1, 2, 3], {}, new ArrayBuffer(4), new DataView(new ArrayBuffer(4))];
    expectInvalid(() => loose.crc32(), /data must be a TypedArray or Buffer/);
    for (const v of notViews) expectInvalid(() => loose.crc32(v), /data must be a TypedArray or Buffer/);
  });

  it('crc32: seed not an integer CRC', () => {
    const data = new Uint8Array(4);
    const badSeeds: unknown[] = [null, '1', 1n, {}, NaN, Infinity, -Infinity, 1.5, -(2 ** 31) - 1, 2 ** 32, 2 ** 53];
    for (const seed of badSeeds) expectInvalid(() => loose.crc32(data, seed), /seed must be an integer CRC/);
    // The edges of the accepted range do not throw.
    expect(loose.crc32(data, 2 ** 32 - 1)).toBe(CRC32.buf(data, -1) >>> 0);
    expect(loose.crc32(data, -(2 ** 31))).toBe(CRC32.buf(data, -(2 ** 31)) >>> 0);
  });

  it('crc32Batch: packed or offsets of the wrong type', () => {
    const packed = new Uint8Array(10);
    expectInvalid(() => loose.crc32Batch(), /packed must be a Uint8Array/);
    expectInvalid(() => loose.crc32Batch('abc', new Uint32Array([0, 1])), /packed must be a Uint8Array/);
    expectInvalid(() => loose.crc32Batch(new Uint16Array(10), new Uint32Array([0, 1])), /packed must be a Uint8Array/);
    expectInvalid(() => loose.crc32Batch(new ArrayBuffer(10), new Uint32Array([0, 1])), /packed must be a Uint8Array/);
    expectInvalid(() => loose.crc32Batch(packed), /offsets must be a Uint32Array/);
    for (const offsets of [[0, 10], new Int32Array([0, 10]), new Uint16Array([0, 10]), new Float64Array([0, 10]), null]) {
      expectInvalid(() => loose.crc32Batch(packed, offsets), /offsets must be a Uint32Array/);
    }
  });

  it('crc32Batch: offsets empty, decreasing, or beyond packed.length', () => {
    const packed = new Uint8Array(10);
    expectInvalid(() => loose.crc32Batch(packed, new Uint32Array(0)), /offsets is empty/);
    expectInvalid(() => loose.crc32Batch(packed, new Uint32Array([0, 5, 4, 10])), /offsets\[2\] = 4 is less than offsets\[1\] = 5/);
    expectInvalid(() => loose.crc32Batch(packed, new Uint32Array([0, 11])), /offsets\[1\] = 11 is beyond packed.length = 10/);
    expectInvalid(() => loose.crc32Batch(packed, new Uint32Array([11])), /offsets\[0\] = 11 is beyond/);
    expectInvalid(() => loose.crc32Batch(packed, new Uint32Array([0, 0xffffffff])), /beyond packed.length/);
    // A view's length is what counts, not its ArrayBuffer's.
    expectInvalid(() => loose.crc32Batch(new Uint8Array(20).subarray(0, 10), new Uint32Array([0, 11])), /beyond/);
    // Edges that are valid.
    expect(loose.crc32Batch(packed, new Uint32Array([10]))).toEqual(new Uint32Array(0));
    expect(loose.crc32Batch(packed, new Uint32Array([10, 10]))).toEqual(new Uint32Array([0]));
  });

  it('crc32Batch: array elements that are not TypedArrays, or a second argument with an array', () => {
    const ok = new Uint8Array(3);
    for (const item of [undefined, null, 'abc', 7, [1, 2], new ArrayBuffer(3), new DataView(new ArrayBuffer(3))]) {
      expectInvalid(() => loose.crc32Batch([ok, item]), /messages\[1\] is not a TypedArray or Buffer/);
    }
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(() => loose.crc32Batch([ok, , ok]), /messages\[1\]/);
    expectInvalid(() => loose.crc32Batch([ok], new Uint32Array([0, 1])), /takes no second argument/);
  });
});
