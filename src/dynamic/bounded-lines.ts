// Splitting a plugin's stdout/stderr into lines without trusting their size:
// readline keeps a whole line in memory (a 100 MB line costs the host several
// times that); here a line keeps at most `maxBytes`, the rest is counted and
// dropped as it streams past.
import type { Readable } from 'node:stream';

/** The longest log line kept from a plugin (64 KiB); longer ones are truncated with a marker. */
export const MAX_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

/** `line` cut to `maxChars` UTF-16 units, with a marker saying how much was cut. */
export function truncateText(line: string, maxChars: number): string {
  return line.length <= maxChars ? line : `${line.slice(0, maxChars)}… [truncated ${line.length - maxChars} chars]`;
}

/**
 * Calls `onLine` for each line of `input` (LF or CRLF; a last line without
 * a newline too), holding at most `maxBytes` of any line: the rest is
 * replaced by "… [truncated N bytes]".
 */
export function onBoundedLines(input: Readable, maxBytes: number, onLine: (line: string) => void): void {
  let parts: Buffer[] = [];
  let kept = 0; // bytes in parts
  let dropped = 0; // bytes of the current line beyond maxBytes

  // Copies what fits, so that a small kept part never pins a large chunk.
  const keep = (slice: Buffer): void => {
    const take = Math.min(slice.length, Math.max(maxBytes - kept, 0));
    if (take > 0) parts.push(Buffer.from(slice.subarray(0, take)));
    kept += take;
    dropped += slice.length - take;
  };
  const emit = (): void => {
    let bytes = Buffer.concat(parts, kept);
    if (dropped === 0 && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    // A cut may split a UTF-8 sequence: decoding replaces its remains with U+FFFD.
    const line = bytes.toString('utf8');
    const cut = dropped;
    parts = [];
    kept = 0;
    dropped = 0;
    onLine(cut === 0 ? line : `${line}… [truncated ${cut} bytes]`);
  };

  input.on('data', (data: Buffer | string) => {
    let chunk = typeof data === 'string' ? Buffer.from(data) : data;
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE)) {
      keep(chunk.subarray(0, at));
      emit();
      chunk = chunk.subarray(at + 1);
    }
    keep(chunk);
  });
  input.on('end', () => {
    if (kept > 0 || dropped > 0) emit();
  });
}
