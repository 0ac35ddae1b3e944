// Mach-O headers and load commands, per <mach-o/loader.h>, and universal
// (fat) headers, per <mach-o/fat.h>. plughost.h puts the descriptor note in
// the section __DATA,__plughost since Mach-O has no note segments.

import type { BinaryInfo, BinaryNote } from './binary-info.js';
import { badFormat, ByteReader, hex32, readNotes, toHex } from './byte-reader.js';

const MH_MAGIC = 0xfeedface;
const MH_CIGAM = 0xcefaedfe;
const MH_MAGIC_64 = 0xfeedfacf;
const MH_CIGAM_64 = 0xcffaedfe;
const FAT_MAGIC = 0xcafebabe;
const FAT_CIGAM = 0xbebafeca;
const FAT_MAGIC_64 = 0xcafebabf;
const FAT_CIGAM_64 = 0xbfbafeca;

/** The magics as they appear in the first four bytes of the file. */
export const MACHO_MAGICS: Uint8Array[] = [MH_MAGIC, MH_CIGAM, MH_MAGIC_64, MH_CIGAM_64].map(bigEndianBytes);
export const FAT_MAGICS: Uint8Array[] = [FAT_MAGIC, FAT_CIGAM, FAT_MAGIC_64, FAT_CIGAM_64].map(bigEndianBytes);

const MH_OBJECT = 0x1;
const MH_EXECUTE = 0x2;
const MH_DYLIB = 0x6;
const MH_BUNDLE = 0x8;

const LC_SEGMENT = 0x1;
const LC_SEGMENT_64 = 0x19;
const LC_UUID = 0x1b;
const UUID_COMMAND_SIZE = 24;

const SECTION_TYPE = 0xff;
const S_ZEROFILL = 0x1;
const S_GB_ZEROFILL = 0xc;
const S_THREAD_LOCAL_ZEROFILL = 0x12;

const NOTE_SEGMENT = '__DATA';
const NOTE_SECTION = '__plughost';
// The descriptor note is declared aligned(4) in plughost.h.
const NOTE_ALIGN = 4;

const MAX_LOAD_COMMANDS = 65535;
// Java class files also start with 0xCAFEBABE; their next word is the
// class-file version (45 and up), so a small slice count tells them apart.
const MAX_FAT_ARCHES = 32;

const CPU_ARCH_ABI64 = 0x01000000;
const CPU_TYPE_X86 = 7;
const CPU_TYPE_ARM = 12;
const CPU_TYPE_POWERPC = 18;
const CPU_TYPE_X86_64 = CPU_TYPE_X86 | CPU_ARCH_ABI64;
const CPU_TYPE_ARM64 = CPU_TYPE_ARM | CPU_ARCH_ABI64;
const CPU_TYPE_POWERPC64 = CPU_TYPE_POWERPC | CPU_ARCH_ABI64;
const CPU_SUBTYPE_MASK = 0xff000000;
const CPU_SUBTYPE_ARM64E = 2;

/** mach_header / mach_header_64 and the segment and section records they imply. */
interface MachLayout {
  bits: 32 | 64;
  headerSize: number;
}

interface SegmentLayout {
  commandSize: number;
  sectionSize: number;
  wide: boolean; // 64-bit addresses and sizes
}

const SEGMENT_32: SegmentLayout = { commandSize: 56, sectionSize: 68, wide: false };
const SEGMENT_64: SegmentLayout = { commandSize: 72, sectionSize: 80, wide: true };

export interface FatArch {
  cputype: number;
  cpusubtype: number;
  offset: number;
  size: number;
  isArm64e: boolean;
}

/** Word size, byte order and cputype from the first words of the header alone. */
export function identifyMachO(input: ByteReader): { bits: 32 | 64; littleEndian: boolean; machine: number; arch: string | null } {
  input.need(0, 8, 'Mach-O header');
  const { layout, littleEndian } = machLayout(input);
  const machine = input.withByteOrder(littleEndian).u32(4);
  return { bits: layout.bits, littleEndian, machine, arch: machoArchName(machine) };
}

/** Reads a thin (single-architecture) Mach-O file. */
export function readMachO(input: ByteReader): BinaryInfo {
  input.need(0, 4, 'Mach-O magic');
  const { layout, littleEndian } = machLayout(input);
  const r = input.withByteOrder(littleEndian);
  r.need(0, layout.headerSize, 'Mach-O header');
  const cputype = r.u32(4);
  const filetype = r.u32(12);
  const ncmds = r.u32(16);
  const sizeofcmds = r.u32(20);
  if (ncmds > MAX_LOAD_COMMANDS) {
    throw badFormat(r.file, 'Mach-O file declares too many load commands', {
      expected: `at most ${MAX_LOAD_COMMANDS}`,
      found: String(ncmds),
    });
  }
  r.need(layout.headerSize, sizeofcmds, 'load commands');

  const notes: BinaryNote[] = [];
  let uuid: string | null = null;
  for (const { cmd, at, size } of loadCommands(r, layout.headerSize, ncmds, sizeofcmds)) {
    if (cmd === LC_SEGMENT || cmd === LC_SEGMENT_64) {
      notes.push(...segmentNotes(r, at, size, cmd === LC_SEGMENT_64 ? SEGMENT_64 : SEGMENT_32));
    } else if (cmd === LC_UUID && uuid === null) {
      if (size < UUID_COMMAND_SIZE) throw badFormat(r.file, 'LC_UUID load command is too small', { found: `${size} bytes` });
      uuid = toHex(r.slice(at + 8, 16, 'LC_UUID'));
    }
  }

  return {
    format: 'macho',
    bits: layout.bits,
    littleEndian,
    machine: cputype,
    arch: machoArchName(cputype),
    kind: fileKind(filetype),
    notes,
    gnuBuildId: uuid,
  };
}

function machLayout(r: ByteReader): { layout: MachLayout; littleEndian: boolean } {
  switch (r.withByteOrder(false).u32(0)) {
    case MH_MAGIC:
      return { layout: { bits: 32, headerSize: 28 }, littleEndian: false };
    case MH_CIGAM:
      return { layout: { bits: 32, headerSize: 28 }, littleEndian: true };
    case MH_MAGIC_64:
      return { layout: { bits: 64, headerSize: 32 }, littleEndian: false };
    case MH_CIGAM_64:
      return { layout: { bits: 64, headerSize: 32 }, littleEndian: true };
    default:
      throw badFormat(r.file, 'not a Mach-O file');
  }
}

interface LoadCommand {
  cmd: number;
  at: number;
  size: number;
}

/** The load commands, each checked to lie within sizeofcmds. */
function loadCommands(r: ByteReader, start: number, ncmds: number, sizeofcmds: number): LoadCommand[] {
  const end = start + sizeofcmds;
  const commands: LoadCommand[] = [];
  let at = start;
  for (let i = 0; i < ncmds; i++) {
    if (end - at < 8) throw badFormat(r.file, `load command ${i} starts past the end of the load commands (sizeofcmds ${sizeofcmds})`);
    const cmd = r.u32(at);
    const size = r.u32(at + 4);
    // A size below 8 would stall or rewind the walk; loader.h requires 4-byte multiples.
    if (size < 8 || size % 4 !== 0 || size > end - at) {
      throw badFormat(r.file, `load command ${i} (0x${cmd.toString(16)}) has an invalid cmdsize`, {
        expected: `a multiple of 4 between 8 and ${end - at}`,
        found: String(size),
      });
    }
    commands.push({ cmd, at, size });
    at += size;
  }
  return commands;
}

/** Checks a segment's file range and returns the notes of its __DATA,__plughost section, if any. */
function segmentNotes(r: ByteReader, at: number, cmdsize: number, seg: SegmentLayout): BinaryNote[] {
  if (cmdsize < seg.commandSize) throw badFormat(r.file, 'segment load command is too small', { found: `${cmdsize} bytes` });
  const segname = r.fixedString(at + 8, 16, 'segment name');
  const word = (offset: number): number => (seg.wide ? r.u64(offset) : r.u32(offset));
  const w = seg.wide ? 8 : 4;
  // vmaddr, vmsize, fileoff, filesize, then maxprot, initprot, nsects, flags.
  const fileoff = word(at + 24 + 2 * w);
  const filesize = word(at + 24 + 3 * w);
  const nsects = r.u32(at + 24 + 4 * w + 8);
  if (filesize > 0) r.need(fileoff, filesize, `segment ${segname}`);
  if (nsects > (cmdsize - seg.commandSize) / seg.sectionSize) {
    throw badFormat(r.file, `segment ${segname} declares more sections than its load command holds`, {
      found: `${nsects} sections in ${cmdsize} bytes`,
    });
  }

  const notes: BinaryNote[] = [];
  for (let i = 0; i < nsects; i++) {
    const sect = at + seg.commandSize + i * seg.sectionSize;
    // Match the section's own segname: in MH_OBJECT files every section sits
    // in one unnamed segment.
    if (r.fixedString(sect, 16, 'section name') !== NOTE_SECTION) continue;
    if (r.fixedString(sect + 16, 16, 'section name') !== NOTE_SEGMENT) continue;
    notes.push(...sectionNotes(r, sect, seg));
  }
  return notes;
}

function sectionNotes(r: ByteReader, sect: number, seg: SegmentLayout): BinaryNote[] {
  const what = `${NOTE_SEGMENT},${NOTE_SECTION} section`;
  // addr, size (words), then offset, align, reloff, nreloc, flags (32-bit).
  const size = seg.wide ? r.u64(sect + 40) : r.u32(sect + 36);
  const offsetAt = seg.wide ? sect + 48 : sect + 40;
  const offset = r.u32(offsetAt);
  const flags = r.u32(offsetAt + 16);
  const type = flags & SECTION_TYPE;
  if (type === S_ZEROFILL || type === S_GB_ZEROFILL || type === S_THREAD_LOCAL_ZEROFILL) {
    throw badFormat(r.file, `${what} is zero-fill, so it has no notes in the file`);
  }
  return readNotes(r, offset, size, NOTE_ALIGN, what);
}

function fileKind(filetype: number): BinaryInfo['kind'] {
  switch (filetype) {
    case MH_BUNDLE:
    case MH_DYLIB:
      return 'shared';
    case MH_EXECUTE:
      return 'executable';
    case MH_OBJECT:
      return 'relocatable';
    default:
      return 'other';
  }
}

/** process.arch for a Mach-O cputype. */
export function machoArchName(cputype: number): string | null {
  switch (cputype >>> 0) {
    case CPU_TYPE_X86:
      return 'ia32';
    case CPU_TYPE_X86_64:
      return 'x64';
    case CPU_TYPE_ARM:
      return 'arm';
    case CPU_TYPE_ARM64:
      return 'arm64';
    case CPU_TYPE_POWERPC:
      return 'ppc';
    case CPU_TYPE_POWERPC64:
      return 'ppc64';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// Universal (fat) files.

/** True for a universal header (and not a Java class file, which shares the magic). */
export function isUniversal(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const r = new ByteReader(bytes, '', false);
  const magic = r.u32(0);
  if (magic !== FAT_MAGIC && magic !== FAT_CIGAM && magic !== FAT_MAGIC_64 && magic !== FAT_CIGAM_64) return false;
  if (bytes.length < 8) return true; // parseFatArches reports the truncation
  return r.withByteOrder(magic === FAT_CIGAM || magic === FAT_CIGAM_64).u32(4) <= MAX_FAT_ARCHES;
}

/**
 * The slices of a universal file. Apple's tools write fat headers big-endian;
 * the byte-swapped magics are accepted too since they are defined.
 */
export function parseFatArches(input: ByteReader): FatArch[] {
  input.need(0, 8, 'universal header');
  const magic = input.withByteOrder(false).u32(0);
  const r = input.withByteOrder(magic === FAT_CIGAM || magic === FAT_CIGAM_64);
  const wide = magic === FAT_MAGIC_64 || magic === FAT_CIGAM_64;
  const entrySize = wide ? 32 : 20;
  const count = r.u32(4);
  if (count > MAX_FAT_ARCHES) {
    throw badFormat(r.file, 'universal file declares too many slices', { expected: `at most ${MAX_FAT_ARCHES}`, found: String(count) });
  }
  const tableEnd = 8 + count * entrySize;
  r.need(8, count * entrySize, 'universal architecture table');

  const arches: FatArch[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + i * entrySize;
    const cputype = r.u32(at);
    const cpusubtype = r.u32(at + 4);
    const offset = wide ? r.u64(at + 8) : r.u32(at + 8);
    const size = wide ? r.u64(at + 16) : r.u32(at + 12);
    if (offset < tableEnd) {
      throw badFormat(r.file, `universal slice ${i} overlaps the universal header`, {
        expected: `offset of at least ${tableEnd}`,
        found: String(offset),
      });
    }
    r.need(offset, size, `universal slice ${i} (cputype 0x${hex32(cputype)})`);
    const isArm64e = cputype === CPU_TYPE_ARM64 && ((cpusubtype & ~CPU_SUBTYPE_MASK) >>> 0) === CPU_SUBTYPE_ARM64E;
    arches.push({ cputype, cpusubtype, offset, size, isArm64e });
  }
  return arches;
}

function bigEndianBytes(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}
