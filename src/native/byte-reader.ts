// A bounds-checked reader over a plugin file's bytes and the note and error
// helpers the ELF and Mach-O readers share: every offset and size is checked
// against the buffer, so hostile input is a PluginFormatError, never a RangeError.

import { PluginFormatError } from '../errors.js';
import type { BinaryNote } from './binary-info.js';

/** A DataView wrapper whose every read is checked against the buffer. */
export class ByteReader {
  readonly length: number;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly littleEndian: boolean,
  ) {
    this.length = bytes.byteLength;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  withByteOrder(littleEndian: boolean): ByteReader {
    return new ByteReader(this.bytes, this.file, littleEndian);
  }

  /** Throws PLUGHOST_FILE_TRUNCATED unless [offset, offset + size) is inside the buffer. */
  need(offset: number, size: number, what: string): void {
    const end = offset + size;
    const ok = Number.isSafeInteger(offset) && Number.isSafeInteger(size) && offset >= 0 && size >= 0 && end <= this.length;
    if (!ok) throw truncated(this.file, what, end, this.length);
  }

  u8(offset: number, what = 'field'): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what = 'field'): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number, what = 'field'): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, this.littleEndian);
  }

  /**
   * A 64-bit value as a number. Above 2^53 it loses precision, which is
   * harmless: such a value is an offset or size no buffer can satisfy, and the
   * bounds check that follows rejects it.
   */
  u64(offset: number, what = 'field'): number {
    this.need(offset, 8, what);
    const first = this.view.getUint32(offset, this.littleEndian);
    const second = this.view.getUint32(offset + 4, this.littleEndian);
    const [hi, lo] = this.littleEndian ? [second, first] : [first, second];
    return hi * 0x1_0000_0000 + lo;
  }

  /** A view (not a copy) of [offset, offset + size). */
  slice(offset: number, size: number, what: string): Uint8Array {
    this.need(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }

  /** A fixed-size, NUL-padded name field such as a Mach-O segname. */
  fixedString(offset: number, size: number, what: string): string {
    return decodeName(this.slice(offset, size, what));
  }
}

// ---------------------------------------------------------------------------
// Note records: the same layout in ELF PT_NOTE/SHT_NOTE and the Mach-O
// __DATA,__plughost section.

const NOTE_HEADER_SIZE = 12;

/**
 * Every note record in [start, start + size). `align` is the note alignment
 * (4, or 8 for 8-aligned ELF notes); padding is computed from the start of the
 * region, which is where the producer aligned it.
 */
export function readNotes(r: ByteReader, start: number, size: number, align: 4 | 8, what: string): BinaryNote[] {
  r.need(start, size, what);
  const notes: BinaryNote[] = [];
  let pos = 0;
  // Each pass consumes at least the 12-byte header, so this terminates.
  while (pos < size) {
    const at = start + pos;
    if (size - pos < NOTE_HEADER_SIZE) {
      throw badFormat(r.file, `${what}: note header at offset ${at} runs past the end of the ${what}`);
    }
    const namesz = r.u32(at);
    const descsz = r.u32(at + 4);
    const type = r.u32(at + 8);
    const nameAt = pos + NOTE_HEADER_SIZE;
    const descAt = alignUp(nameAt + namesz, align);
    // The last note's trailing padding may be absent; its name and desc may not.
    if (nameAt + namesz > size || descAt + descsz > size) {
      throw badFormat(r.file, `${what}: note at offset ${at} runs past the end of the ${what}`, {
        expected: `at most ${size - pos} bytes`,
        found: `namesz ${namesz}, descsz ${descsz}`,
      });
    }
    notes.push({
      owner: decodeName(r.slice(start + nameAt, namesz, what)),
      type,
      // A copy, so the result neither pins nor aliases the whole file buffer.
      desc: r.slice(start + descAt, descsz, what).slice(),
    });
    pos = alignUp(descAt + descsz, align);
  }
  return notes;
}

/**
 * The alignment used for the notes in a PT_NOTE segment or SHT_NOTE section.
 * Producers before 8-byte notes existed wrote 0 or 1 here and meant 4.
 */
export function noteAlignment(declared: number, file: string, what: string): 4 | 8 {
  if (declared <= 4) return 4;
  if (declared === 8) return 8;
  throw badFormat(file, `${what} has note alignment ${declared}; only 4 and 8 are defined`);
}

const nameDecoder = new TextDecoder('utf-8');

/** Decodes a name field, dropping the NUL terminator and any NUL padding. */
export function decodeName(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return nameDecoder.decode(bytes.subarray(0, end));
}

// ---------------------------------------------------------------------------
// Errors and small helpers.

export function truncated(file: string, what: string, needed: number, length: number): PluginFormatError {
  const message = length === 0 ? 'file is empty' : `file is truncated: ${what} extends past the end of the file`;
  return new PluginFormatError('PLUGHOST_FILE_TRUNCATED', message, {
    file,
    expected: Number.isFinite(needed) ? `at least ${needed} bytes` : 'a valid offset',
    found: `${length} bytes`,
  });
}

export function badFormat(
  file: string,
  message: string,
  extra: { expected?: string; found?: string; hint?: string } = {},
): PluginFormatError {
  return new PluginFormatError('PLUGHOST_BAD_FORMAT', message, { file, ...extra });
}

export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
