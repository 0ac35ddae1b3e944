// textstats in TypeScript: byte-for-byte the native plugin's statsBytes
// (plugins-native/textstats/textstats.cpp). Counting follows `wc` in the C
// locale: lines are '\n' bytes, words are maximal runs of bytes other than
// ASCII space, \t, \n, \v, \f, \r. For `top`, each word is ASCII-lowercased
// and trimmed of ASCII punctuation; ties are broken by the word's bytes
// (memcmp order). The text must be well-formed UTF-8.
//
// Words are handled as latin1 strings (one char per byte), so comparing them
// with `<` is memcmp order and writing them back is exact.
import { PluginError } from '../../src/sdk/index.js';

export const DEFAULT_TOP_K = 10;
export const MAX_TOP_K = 10000;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

// C-locale ispunct().
const isPunct = (c: number): boolean =>
  (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);

/** Length of the well-formed UTF-8 sequence at i (text[i] >= 0x80), or 0 (stray continuation, overlong, surrogate, > U+10FFFF, truncated). */
function utf8SequenceLength(text: Uint8Array, i: number): number {
  const c = text[i]!;
  let len: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (text.length - i < len) return 0;
  const c1 = text[i + 1]!;
  if (c1 < lo || c1 > hi) return 0;
  for (let k = 2; k < len; k++) if ((text[i + k]! & 0xc0) !== 0x80) return 0;
  return len;
}

export interface TextStats {
  bytes: number;
  lines: number;
  words: number;
  /** [word as latin1 (one char per byte), count], most frequent first. */
  top: Array<[string, number]>;
}

/** Counts and the top-k words; throws PluginError PLUGHOST_INVALID_ARGUMENT for invalid UTF-8. */
export function computeStats(text: Uint8Array, topK = DEFAULT_TOP_K): TextStats {
  const n = text.length;
  // A case-folded copy; word keys are slices of it.
  const folded = Buffer.allocUnsafe(n);
  const counts = new Map<string, number>();
  const spans: number[] = []; // [start, end) of each trimmed, non-empty word
  let lines = 0;
  let words = 0;
  let start = 0;
  let inWord = false;

  const endWord = (end: number): void => {
    words++;
    inWord = false;
    let b = start;
    let e = end;
    while (b < e && isPunct(text[b]!)) b++;
    while (e > b && isPunct(text[e - 1]!)) e--;
    if (b < e) spans.push(b, e);
  };

  for (let i = 0; i < n; ) {
    const c = text[i]!;
    if (c < 0x80) {
      if (isSpace(c)) {
        if (c === 0x0a) lines++;
        if (inWord) endWord(i);
        folded[i] = c;
      } else {
        if (!inWord) {
          start = i;
          inWord = true;
        }
        folded[i] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
      }
      i++;
    } else {
      const len = utf8SequenceLength(text, i);
      if (len === 0) throw new PluginError('PLUGHOST_INVALID_ARGUMENT', `text is not valid UTF-8 (at byte ${i})`);
      if (!inWord) {
        start = i;
        inWord = true;
      }
      for (let k = 0; k < len; k++) folded[i + k] = text[i + k]!;
      i += len;
    }
  }
  if (inWord) endWord(n);

  const all = folded.toString('latin1', 0, n);
  for (let s = 0; s < spans.length; s += 2) {
    const key = all.slice(spans[s]!, spans[s + 1]!);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { bytes: n, lines, words, top: topEntries(counts, topK) };
}

/** Before: higher count first, then memcmp order of the word. */
const before = (aWord: string, aCount: number, bWord: string, bCount: number): boolean =>
  aCount !== bCount ? aCount > bCount : aWord < bWord;

/** The k best entries, best first, without sorting the whole map. */
function topEntries(counts: Map<string, number>, k: number): Array<[string, number]> {
  const top: Array<[string, number]> = [];
  if (k === 0) return top;
  for (const [word, count] of counts) {
    if (top.length === k) {
      const last = top[k - 1]!;
      if (!before(word, count, last[0], last[1])) continue;
      top.pop();
    }
    let i = top.length;
    while (i > 0 && before(word, count, top[i - 1]![0], top[i - 1]![1])) i--;
    top.splice(i, 0, [word, count]);
  }
  return top;
}

/** A latin1 word as a JSON string with JSON.stringify's escapes (bytes >= 0x20 other than " and \ as they are). */
function jsonString(word: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += word.slice(from, i);
    from = i + 1;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x08: out += '\\b'; break;
      case 0x0c: out += '\\f'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      default: out += `\\u00${c.toString(16).padStart(2, '0')}`;
    }
  }
  return `${out}${word.slice(from)}"`;
}

/** The canonical JSON: {"bytes":N,"lines":N,"words":N,"top":[["word",N],...]} with no whitespace, as UTF-8 bytes. */
export function statsBytes(text: Uint8Array, topK = DEFAULT_TOP_K): Uint8Array {
  const s = computeStats(text, topK);
  let json = `{"bytes":${s.bytes},"lines":${s.lines},"words":${s.words},"top":[`;
  for (let i = 0; i < s.top.length; i++) {
    const [word, count] = s.top[i]!;
    json += `${i === 0 ? '' : ','}[${jsonString(word)},${count}]`;
  }
  json += ']}';
  return Buffer.from(json, 'latin1');
}
