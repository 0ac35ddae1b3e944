// Reads just enough of a native plugin file (ELF or Mach-O) to verify it
// before dlopen: word size, byte order, machine, file kind and notes. Nothing
// here trusts the file: every offset and size is checked against the buffer,
// so a hostile or truncated file yields a PluginFormatError, never a
// RangeError or a hang.
//
// elf.ts and macho.ts import the reader and note helpers below while this
// module imports their entry points. The cycle is safe because neither side
// uses the other's bindings at module top level, only inside functions.

import { PluginFormatError } from '../errors.js';
import { ELF_MAGIC, elfArchName, identifyElf, readElf } from './elf.js';
import {
  FAT_MAGICS,
  identifyMachO,
  isUniversal,
  machoArchName,
  MACHO_MAGICS,
  parseFatArches,
  readMachO,
  type FatArch,
} from './macho.js';

export interface BinaryNote {
  owner: string;
  type: number;
  desc: Uint8Array;
}

export interface BinaryInfo {
  format: 'elf' | 'macho';
  bits: 32 | 64;
  littleEndian: boolean;
  /** Raw e_machine (ELF) or cputype (Mach-O, as an unsigned 32-bit value). */
  machine: number;
  /** Node's process.arch name for the machine, null if Node has none. */
  arch: string | null;
  kind: 'shared' | 'executable' | 'relocatable' | 'other';
  notes: BinaryNote[];
  /** ELF: hex of the GNU build-id note; Mach-O: LC_UUID as 32 hex chars. */
  gnuBuildId: string | null;
}

/** What the fixed file header alone says, before any table is parsed. */
export type BinaryIdentity =
  | {
      format: 'elf' | 'macho';
      fat: false;
      bits: 32 | 64;
      littleEndian: boolean;
      machine: number;
      arch: string | null;
    }
  | {
      /** A universal file: the machine is per slice, see selectSlice. */
      format: 'macho';
      fat: true;
    };

/**
 * Format, word size, byte order and machine from the fixed header only, so a
 * file for another machine can be refused before its tables are trusted.
 */
export function identifyBinary(bytes: Uint8Array, file: string): BinaryIdentity {
  if (isUniversal(bytes)) return { format: 'macho', fat: true };
  const reader = new ByteReader(bytes, file, true);
  const format = thinFormat(bytes, file);
  const header = format === 'elf' ? identifyElf(reader) : identifyMachO(reader);
  return { format, fat: false, ...header };
}

/**
 * Reads the headers and notes of an ELF or Mach-O file.
 *
 * A universal (fat) Mach-O is read through the slice for `process.arch`,
 * because that is the slice dlopen would map; if there is none this throws
 * PLUGHOST_WRONG_ARCH. Use selectSlice first to inspect another slice.
 */
export function readBinary(bytes: Uint8Array, file: string): BinaryInfo {
  if (isUniversal(bytes)) return readThin(selectSlice(bytes, process.arch, file), file);
  return readThin(bytes, file);
}

/**
 * For a Mach-O universal (fat) file: the slice for `arch` (a Node arch name),
 * else throws PLUGHOST_WRONG_ARCH listing the arches present. For non-fat
 * input returns the input.
 */
export function selectSlice(bytes: Uint8Array, arch: string, file: string): Uint8Array {
  if (!isUniversal(bytes)) return bytes;
  const arches = parseFatArches(new ByteReader(bytes, file, false));
  const slice = pickSlice(arches, arch);
  if (slice === undefined) {
    const present = arches.map((a) => archName('macho', a.cputype) ?? `cputype 0x${hex32(a.cputype)}`);
    throw new PluginFormatError('PLUGHOST_WRONG_ARCH', `universal file has no slice for ${arch}`, {
      file,
      expected: arch,
      found: present.length === 0 ? 'no slices' : present.join(', '),
    });
  }
  return bytes.subarray(slice.offset, slice.offset + slice.size);
}

/** Node's process.arch name for a machine number, null if Node has none. */
export function archName(format: 'elf' | 'macho', machine: number): string | null {
  return format === 'elf' ? elfArchName(machine) : machoArchName(machine);
}

function readThin(bytes: Uint8Array, file: string): BinaryInfo {
  const reader = new ByteReader(bytes, file, true);
  return thinFormat(bytes, file) === 'elf' ? readElf(reader) : readMachO(reader);
}

/** Dispatches on the magic of a single-architecture file. */
function thinFormat(bytes: Uint8Array, file: string): 'elf' | 'macho' {
  const magic = leadingBytes(bytes, 4);
  if (startsWith(magic, ELF_MAGIC)) return 'elf';
  if (MACHO_MAGICS.some((m) => startsWith(magic, m))) return 'macho';
  // Only reachable for a slice: readBinary has already unwrapped the outer file.
  if (isUniversal(bytes)) throw badFormat(file, 'a slice of the universal (fat) file is itself a universal file');
  const known = [ELF_MAGIC, ...MACHO_MAGICS, ...FAT_MAGICS];
  if (magic.length < 4 && known.some((m) => startsWith(m, magic))) {
    throw truncated(file, 'file header', 4, bytes.length);
  }
  throw badFormat(file, 'not an ELF or Mach-O file', { found: hexBytes(leadingBytes(bytes, 8)) });
}

function pickSlice(arches: FatArch[], arch: string): FatArch | undefined {
  const matching = arches.filter((a) => archName('macho', a.cputype) === arch);
  // An ordinary arm64 process cannot load an arm64e slice, so prefer any other.
  return matching.find((a) => !a.isArm64e) ?? matching[0];
}

// ---------------------------------------------------------------------------
// Bounds-checked reading, shared by elf.ts and macho.ts.

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

function hexBytes(bytes: Uint8Array): string {
  return bytes.length === 0 ? '(no bytes)' : Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function leadingBytes(bytes: Uint8Array, count: number): Uint8Array {
  return bytes.subarray(0, Math.min(count, bytes.length));
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}
