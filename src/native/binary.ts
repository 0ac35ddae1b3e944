// Reads just enough of a native plugin file (ELF or Mach-O) to verify it
// before dlopen: word size, byte order, machine, file kind and notes. Nothing
// here trusts the file: every offset and size is checked against the buffer,
// so a hostile or truncated file yields a PluginFormatError, never a
// RangeError or a hang.
//
// The bounds-checked reader and note helpers both formats share live in
// byte-reader.ts, so elf.ts and macho.ts depend on it and this file on them.

import { PluginFormatError } from '../errors.js';
import type { BinaryInfo } from './binary-info.js';
import { badFormat, ByteReader, hex32, truncated } from './byte-reader.js';
import { ELF_MAGIC, elfArchName, identifyElf, readElf } from './elf.js';
export type { BinaryInfo, BinaryNote } from './binary-info.js';
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
