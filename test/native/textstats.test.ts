// The textstats C++ plugin, loaded raw with process.dlopen (no host), checked
// against an independent byte-level reference implementation below.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

type Top = Array<[string, number]>;
interface Result {
  bytes: number;
  lines: number;
  words: number;
  top: Top;
}
interface TextStats {
  stats(text: Uint8Array, options?: { topK?: number }): Result;
  statsBytes(text: Uint8Array): Uint8Array;
  fail(message: string): never;
}

const require = createRequire(import.meta.url);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const pluginDir = path.join(repoRoot, 'plugins-native/textstats');
const pluginPath = path.join(pluginDir, 'build/Release/textstats.node');

let plugin: TextStats;
// Loosely typed view for the bad-argument tests.
let untyped: Record<string, (...args: unknown[]) => unknown>;

beforeAll(() => {
  if (!existsSync(pluginPath)) {
    const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin/cmake-js');
    try {
      execFileSync(process.execPath, [cmakeJs, 'rebuild'], { cwd: pluginDir, stdio: 'pipe', timeout: 170_000 });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`cmake-js rebuild failed:\n${e.stdout?.toString() ?? ''}\n${e.stderr?.toString() ?? ''}`);
    }
  }
  const m = { exports: {} as Record<string, unknown> };
  process.dlopen(m, pluginPath);
  plugin = m.exports as unknown as TextStats;
  untyped = m.exports as Record<string, (...args: unknown[]) => unknown>;
});

// ---------------------------------------------------------------------------
// Reference implementation: works on bytes; words are kept as latin1 strings
// (one char per byte), so `<` on them is memcmp order.

const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);
const isAlnum = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isPunct = (b: number) => b > 0x20 && b < 0x7f && !isAlnum(b);

function reference(text: Uint8Array, topK = 10): Result {
  let lines = 0;
  let words = 0;
  const counts = new Map<string, number>();
  const tokens: number[][] = [];
  let current: number[] | null = null;
  for (const b of text) {
    if (b === 0x0a) lines++;
    if (isSpace(b)) {
      current = null;
    } else {
      if (!current) tokens.push((current = []));
      current.push(b);
    }
  }
  for (const token of tokens) {
    words++;
    let start = 0;
    let end = token.length;
    while (start < end && isPunct(token[start]!)) start++;
    while (end > start && isPunct(token[end - 1]!)) end--;
    if (start === end) continue;
    const key = token
      .slice(start, end)
      .map((b) => String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 0x20 : b))
      .join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = [...counts]
    .sort(([wa, ca], [wb, cb]) => cb - ca || (wa < wb ? -1 : wa > wb ? 1 : 0))
    .slice(0, topK)
    .map(([w, c]): [string, number] => [Buffer.from(w, 'latin1').toString('utf8'), c]);
  return { bytes: text.length, lines, words, top };
}

// Deterministic PRNG (mulberry32) so failures reproduce.
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = ['the', 'The', 'THE', 'a', 'A', 'cat', 'Cat', 'café', 'CAFÉ', '日本語', '😀', '！', 'x"y', 'back\\slash',
  'ctl\x01', 'b\bs', '\x7f', 'don\'t', 'e.g.', 'u\u2028v', 'Zz', 'zz', '10', '1', 'α', 'Ωmega'];
const PUNCT = ['', '', '', '"', '(', ')', ',', '.', '!', '?', '--', '\'', '...', '`', '~'];
const SPACE = [' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\v', '\f', '\r', ' \n\n '];

function randomText(next: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const n = Math.floor(next() * 200);
  let s = next() < 0.3 ? pick(SPACE) : '';
  for (let i = 0; i < n; i++) {
    s += next() < 0.1 ? pick(PUNCT) + pick(PUNCT) : pick(PUNCT) + pick(VOCAB) + pick(PUNCT);
    if (i < n - 1 || next() < 0.5) s += pick(SPACE);
  }
  return Buffer.from(s, 'utf8');
}

const b = (s: string) => Buffer.from(s, 'utf8');
const jsonBytes = (r: Result) => Buffer.from(JSON.stringify(r));
const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function expectCode(fn: () => unknown, code: string): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as { code?: unknown }).code).toBe(code);
  return caught as Error;
}

// ---------------------------------------------------------------------------

describe('textstats plugin (raw dlopen)', () => {
  it('exports its methods and a hidden plughost descriptor', () => {
    expect(Object.keys(plugin).sort()).toEqual(['fail', 'stats', 'statsBytes']);
    const desc = (plugin as unknown as { __plughost: Buffer }).__plughost;
    expect(desc.length).toBe(180);
    expect(desc.subarray(0, 8).toString('latin1')).toBe('PLUGHOST');
    expect(desc.readUInt16LE(14)).toBe(8); // NAPI_VERSION pinned by plughost.cmake
    const cstr = (off: number, len: number) => desc.subarray(off, off + len).toString('latin1').replace(/\0.*$/s, '');
    expect(cstr(20, 64)).toBe('textstats');
    expect(cstr(84, 32)).toBe('1.0.0');
    expect(cstr(116, 64)).toMatch(/^[A-Za-z0-9._+-]{1,63}$/);
  });

  describe('stats: counts', () => {
    const cases: Array<[string, string, Omit<Result, 'top'>]> = [
      ['empty', '', { bytes: 0, lines: 0, words: 0 }],
      ['only whitespace', ' \t\n\v\f\r  \n', { bytes: 9, lines: 2, words: 0 }],
      ['no trailing newline', 'a b\nc', { bytes: 5, lines: 1, words: 3 }],
      ['CRLF', 'one two\r\nthree\r\n', { bytes: 16, lines: 2, words: 3 }],
      ['tabs', '\ta\tb\t\tc\t', { bytes: 8, lines: 0, words: 3 }],
      ['punctuation-only tokens', '--- ... !? a', { bytes: 12, lines: 0, words: 4 }],
      ['non-ASCII', 'café 日本語\n', { bytes: 16, lines: 1, words: 2 }],
      ['non-ASCII whitespace is not whitespace', 'a\u00a0b\u3000c', { bytes: 8, lines: 0, words: 1 }],
    ];
    for (const [name, text, counts] of cases) {
      it(name, () => {
        const got = plugin.stats(b(text));
        expect(got).toMatchObject(counts);
        expect(got).toEqual(reference(b(text)));
      });
    }
  });

  describe('stats: top words', () => {
    it('ignores tokens that are only punctuation, strips it only at the ends', () => {
      expect(plugin.stats(b('--- "(Hello)," hello!! ... don\'t e.g. ?')).top).toEqual([
        ['hello', 2],
        ["don't", 1],
        ['e.g', 1],
      ]);
    });

    it('lowercases ASCII only', () => {
      expect(plugin.stats(b('Foo FOO foo fOo café Café CAFÉ')).top).toEqual([
        ['foo', 4],
        ['café', 2],
        ['cafÉ', 1],
      ]);
    });

    it('keeps non-ASCII bytes, including non-ASCII punctuation', () => {
      expect(plugin.stats(b('日本語 日本語。 «x»')).top).toEqual([
        ['«x»', 1],
        ['日本語', 1],
        ['日本語。', 1],
      ]);
    });

    it('breaks ties by the UTF-8 bytes (memcmp), shorter prefix first', () => {
      // UTF-16 order would put 😀 (D83D) before ！ (FF01); UTF-8 order is EF < F0.
      expect(plugin.stats(b('😀 ！ b ab a b é z a10 a1 a')).top).toEqual([
        ['a', 2],
        ['b', 2],
        ['a1', 1],
        ['a10', 1],
        ['ab', 1],
        ['z', 1],
        ['é', 1],
        ['！', 1],
        ['😀', 1],
      ]);
    });

    it('honours topK 0, 1, the default 10 and large values', () => {
      const text = b(Array.from({ length: 30 }, (_, i) => `w${i} `.repeat(i + 1)).join('\n'));
      expect(plugin.stats(text, { topK: 0 }).top).toEqual([]);
      expect(plugin.stats(text, { topK: 1 }).top).toEqual([['w29', 30]]);
      expect(plugin.stats(text).top).toHaveLength(10);
      expect(plugin.stats(text, {}).top).toEqual(reference(text, 10).top);
      expect(plugin.stats(text, { topK: undefined }).top).toHaveLength(10);
      expect(plugin.stats(text, { topK: 10000 })).toEqual(reference(text, 10000));
      expect(plugin.stats(text, { topK: 10000 }).top).toHaveLength(30);
    });

    it('accepts a Buffer slice and a plain Uint8Array view', () => {
      const big = b('xx hello world yy');
      const view = new Uint8Array(big.buffer, big.byteOffset + 3, 11);
      expect(plugin.stats(view)).toEqual(reference(b('hello world')));
      expect(plugin.stats(big.subarray(3, 14))).toEqual(reference(b('hello world')));
    });
  });

  it('matches the reference on random texts', () => {
    const next = rng(0x7e575);
    for (let i = 0; i < 300; i++) {
      const text = randomText(next);
      const topK = [0, 1, 3, 10, 50, 10000][i % 6]!;
      expect(plugin.stats(text, { topK }), text.toString('utf8')).toEqual(reference(text, topK));
      expect(asBuffer(plugin.statsBytes(text)).equals(jsonBytes(reference(text)))).toBe(true);
    }
  });

  describe('statsBytes', () => {
    it('returns a Uint8Array equal to JSON.stringify of the reference, byte for byte', () => {
      const text = b('say"hi back\\slash "quoted" \x01ctl a\bb x\x1fy \x7f café 日本語 u\u2028v');
      const out = plugin.statsBytes(text);
      expect(out).toBeInstanceOf(Uint8Array);
      expect(asBuffer(out).toString('utf8')).toBe(JSON.stringify(reference(text)));
      expect(asBuffer(out).equals(jsonBytes(reference(text)))).toBe(true);
      expect(asBuffer(out).toString('utf8')).toContain('"say\\"hi"');
      expect(asBuffer(out).toString('utf8')).toContain('"back\\\\slash"');
      expect(asBuffer(out).toString('utf8')).toContain('"\\u0001ctl"');
      expect(asBuffer(out).toString('utf8')).toContain('"a\\bb"');
    });

    it('uses topK 10 and agrees with stats', () => {
      const text = b(Array.from({ length: 15 }, (_, i) => `w${i} `.repeat(i + 1)).join(''));
      const parsed = JSON.parse(asBuffer(plugin.statsBytes(text)).toString('utf8')) as Result;
      expect(parsed).toEqual(plugin.stats(text));
      expect(parsed.top).toHaveLength(10);
    });

    it('encodes the empty text', () => {
      expect(asBuffer(plugin.statsBytes(new Uint8Array(0))).toString()).toBe('{"bytes":0,"lines":0,"words":0,"top":[]}');
    });
  });

  describe('errors', () => {
    const invalid: Array<[string, number[]]> = [
      ['lone continuation 80', [0x80]],
      ['overlong C0 80', [0xc0, 0x80]],
      ['overlong C1 BF', [0xc1, 0xbf]],
      ['overlong E0 80 80', [0xe0, 0x80, 0x80]],
      ['overlong F0 80 80 80', [0xf0, 0x80, 0x80, 0x80]],
      ['surrogate ED A0 80', [0xed, 0xa0, 0x80]],
      ['above U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80]],
      ['F5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
      ['FF', [0xff]],
      ['truncated E2 82 at the end', [0x61, 0x20, 0xe2, 0x82]],
      ['truncated E2 82 before ASCII', [0xe2, 0x82, 0x61]],
    ];
    for (const [name, bytes] of invalid) {
      it(`rejects invalid UTF-8: ${name}`, () => {
        const text = Buffer.from([...b('ok '), ...bytes, ...b(' ok')]);
        expectCode(() => plugin.stats(text), 'PLUGHOST_INVALID_ARGUMENT');
        expectCode(() => plugin.statsBytes(text), 'PLUGHOST_INVALID_ARGUMENT');
        expectCode(() => plugin.stats(Buffer.from(bytes)), 'PLUGHOST_INVALID_ARGUMENT');
      });
    }

    it('agrees with a fatal TextDecoder on random bytes', () => {
      const next = rng(42);
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const pool = [0x20, 0x0a, 0x61, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5];
      for (let i = 0; i < 2000; i++) {
        const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 6) }, () => pool[Math.floor(next() * pool.length)]!);
        let valid = true;
        try {
          decoder.decode(bytes);
        } catch {
          valid = false;
        }
        if (valid) expect(plugin.stats(bytes)).toEqual(reference(bytes));
        else expectCode(() => plugin.stats(bytes), 'PLUGHOST_INVALID_ARGUMENT');
      }
    });

    it('rejects bad arguments with PLUGHOST_INVALID_ARGUMENT', () => {
      const ok = b('a b');
      const bad: Array<() => unknown> = [
        () => untyped.stats!(),
        () => untyped.stats!('a b'),
        () => untyped.stats!([97, 32, 98]),
        () => untyped.stats!(new Uint16Array(2)),
        () => untyped.stats!(ok, null),
        () => untyped.stats!(ok, 5),
        () => untyped.stats!(ok, { topK: -1 }),
        () => untyped.stats!(ok, { topK: 1.5 }),
        () => untyped.stats!(ok, { topK: 'x' }),
        () => untyped.stats!(ok, { topK: '3' }),
        () => untyped.stats!(ok, { topK: NaN }),
        () => untyped.stats!(ok, { topK: 10001 }),
        () => untyped.stats!(ok, { topK: Infinity }),
        () => untyped.statsBytes!(),
        () => untyped.statsBytes!('a b'),
        () => untyped.fail!(),
        () => untyped.fail!(42),
      ];
      for (const fn of bad) expectCode(fn, 'PLUGHOST_INVALID_ARGUMENT');
    });

    it('turns a plain C++ exception into PLUGHOST_PLUGIN_EXCEPTION and stays usable', () => {
      const err = expectCode(() => plugin.fail('boom'), 'PLUGHOST_PLUGIN_EXCEPTION');
      expect(err.message).toBe('boom');
      expect(plugin.stats(b('still alive'))).toEqual(reference(b('still alive')));
      expectCode(() => plugin.fail('again'), 'PLUGHOST_PLUGIN_EXCEPTION');
      expect(asBuffer(plugin.statsBytes(b('x'))).toString()).toBe('{"bytes":1,"lines":0,"words":1,"top":[["x",1]]}');
    });
  });
});
