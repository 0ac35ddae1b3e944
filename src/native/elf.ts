// ELF headers, program headers, section headers and notes, per the System V
// gABI. Only what a pre-dlopen check needs is read, but every table the header
// points at is bounds-checked, so a truncated file is reported as such instead
// of being mapped (a segment past end of file faults when touched).

import {
  badFormat,
  ByteReader,
  noteAlignment,
  readNotes,
  toHex,
} from './byte-reader.js';
import type { BinaryInfo, BinaryNote } from './binary-info.js';

export const ELF_MAGIC = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46);

const EI_NIDENT = 16;
const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const EV_CURRENT = 1;

const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;

const PT_INTERP = 3;
const PT_NOTE = 4;
const SHT_NOTE = 7;

// When a count does not fit its 16-bit header field, the real count lives in
// section header 0 (gABI "extended numbering").
const PN_XNUM = 0xffff;
const MAX_TABLE_ENTRIES = 65535;

const NT_GNU_BUILD_ID = 3;

const EM_386 = 3;
const EM_MIPS = 8;
const EM_PPC = 20;
const EM_PPC64 = 21;
const EM_S390 = 22;
const EM_ARM = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const EM_LOONGARCH = 258;

/** Field offsets and entry sizes that differ between ELFCLASS32 and ELFCLASS64. */
interface ClassLayout {
  bits: 32 | 64;
  ehsize: number;
  phoff: number;
  shoff: number;
  phentsize: number; // offset of e_phentsize; e_phnum etc. follow it
  minPhent: number;
  minShent: number;
}

const LAYOUT32: ClassLayout = { bits: 32, ehsize: 52, phoff: 28, shoff: 32, phentsize: 42, minPhent: 32, minShent: 40 };
const LAYOUT64: ClassLayout = { bits: 64, ehsize: 64, phoff: 32, shoff: 40, phentsize: 54, minPhent: 56, minShent: 64 };

interface ElfHeader {
  layout: ClassLayout;
  type: number;
  machine: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
}

interface Segment {
  type: number;
  offset: number;
  filesz: number;
  align: number;
}

interface Section {
  type: number;
  offset: number;
  size: number;
  addralign: number;
  info: number;
}

/** Word size, byte order and machine from e_ident and e_machine alone. */
export function identifyElf(input: ByteReader): { bits: 32 | 64; littleEndian: boolean; machine: number; arch: string | null } {
  input.need(0, EI_NIDENT + 4, 'ELF identification');
  const { bits } = classLayout(input);
  const littleEndian = byteOrderIsLittle(input);
  const machine = input.withByteOrder(littleEndian).u16(18);
  return { bits, littleEndian, machine, arch: archForElf(machine, bits, littleEndian) };
}

/** Reads an ELF file; `input`'s byte order is ignored, e_ident decides. */
export function readElf(input: ByteReader): BinaryInfo {
  input.need(0, EI_NIDENT, 'ELF identification');
  const layout = classLayout(input);
  const r = input.withByteOrder(byteOrderIsLittle(input));
  const header = readHeader(r, layout);
  const { phnum, shnum } = resolveCounts(r, header);
  const sections = readSections(r, header, shnum);
  const segments = readSegments(r, header, phnum);

  const noteSegments = segments.filter((s) => s.type === PT_NOTE);
  // Segments are what the loader sees; sections are the fallback for objects
  // (and odd links) that have no PT_NOTE.
  const notes =
    noteSegments.length > 0
      ? noteSegments.flatMap((s) => segmentNotes(r, s))
      : sections.filter((s) => s.type === SHT_NOTE).flatMap((s) => sectionNotes(r, s));

  return {
    format: 'elf',
    bits: layout.bits,
    littleEndian: r.littleEndian,
    machine: header.machine,
    arch: archForElf(header.machine, layout.bits, r.littleEndian),
    kind: fileKind(header.type, segments),
    notes,
    gnuBuildId: gnuBuildId(notes),
  };
}

function classLayout(r: ByteReader): ClassLayout {
  const elfClass = r.u8(EI_CLASS);
  if (elfClass === ELFCLASS32) return LAYOUT32;
  if (elfClass === ELFCLASS64) return LAYOUT64;
  throw badFormat(r.file, 'ELF file has an invalid class', { expected: '1 (32-bit) or 2 (64-bit)', found: String(elfClass) });
}

function byteOrderIsLittle(r: ByteReader): boolean {
  const data = r.u8(EI_DATA);
  if (data === ELFDATA2LSB) return true;
  if (data === ELFDATA2MSB) return false;
  throw badFormat(r.file, 'ELF file has an invalid data encoding', { expected: '1 (LSB) or 2 (MSB)', found: String(data) });
}

function readHeader(r: ByteReader, layout: ClassLayout): ElfHeader {
  r.need(0, layout.ehsize, 'ELF header');
  const version = r.u8(EI_VERSION);
  if (version !== EV_CURRENT) {
    throw badFormat(r.file, 'ELF file has an unknown version', { expected: String(EV_CURRENT), found: String(version) });
  }
  const word = wordReader(r, layout);
  const at = layout.phentsize;
  return {
    layout,
    type: r.u16(16),
    machine: r.u16(18),
    phoff: word(layout.phoff),
    shoff: word(layout.shoff),
    phentsize: r.u16(at),
    phnum: r.u16(at + 2),
    shentsize: r.u16(at + 4),
    shnum: r.u16(at + 6),
  };
}

/** Reads an address-sized field: 4 bytes in ELFCLASS32, 8 in ELFCLASS64. */
function wordReader(r: ByteReader, layout: ClassLayout): (offset: number) => number {
  return layout.bits === 32 ? (offset) => r.u32(offset) : (offset) => r.u64(offset);
}

/**
 * The real e_phnum and e_shnum, which extended numbering moves into section
 * header 0 when they do not fit in 16 bits.
 */
function resolveCounts(r: ByteReader, h: ElfHeader): { phnum: number; shnum: number } {
  if (h.shoff === 0) {
    if (h.phnum === PN_XNUM) throw badFormat(r.file, 'ELF e_phnum is PN_XNUM but there is no section header 0 holding the count');
    return { phnum: h.phnum, shnum: 0 };
  }
  checkEntrySize(r, 'section header', h.shentsize, h.layout.minShent);
  const first = readSection(r, h, 0);
  const phnum = h.phnum === PN_XNUM ? first.info : h.phnum;
  const shnum = h.shnum === 0 ? first.size : h.shnum;
  checkCount(r, 'program headers', phnum);
  checkCount(r, 'section headers', shnum);
  return { phnum, shnum };
}

function readSections(r: ByteReader, h: ElfHeader, count: number): Section[] {
  if (count === 0) return [];
  r.need(h.shoff, count * h.shentsize, 'section header table');
  const sections: Section[] = [];
  for (let i = 0; i < count; i++) sections.push(readSection(r, h, i));
  return sections;
}

function readSection(r: ByteReader, h: ElfHeader, index: number): Section {
  const at = h.shoff + index * h.shentsize;
  r.need(at, h.layout.minShent, 'section header table');
  const word = wordReader(r, h.layout);
  const w = h.layout.bits === 32 ? 4 : 8;
  // sh_flags, sh_addr, sh_offset and sh_size are words; sh_link and sh_info
  // stay 32-bit in both classes, which shifts sh_addralign.
  return {
    type: r.u32(at + 4),
    offset: word(at + 8 + 2 * w),
    size: word(at + 8 + 3 * w),
    info: r.u32(at + 12 + 4 * w),
    addralign: word(at + 16 + 4 * w),
  };
}

function readSegments(r: ByteReader, h: ElfHeader, count: number): Segment[] {
  if (count === 0) return [];
  checkEntrySize(r, 'program header', h.phentsize, h.layout.minPhent);
  r.need(h.phoff, count * h.phentsize, 'program header table');
  const segments: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const segment = readSegment(r, h, h.phoff + i * h.phentsize);
    if (segment.filesz > 0) r.need(segment.offset, segment.filesz, `segment ${i} (type 0x${segment.type.toString(16)})`);
    segments.push(segment);
  }
  return segments;
}

function readSegment(r: ByteReader, h: ElfHeader, at: number): Segment {
  // ELF64 moves p_flags up next to p_type so the 64-bit fields stay aligned.
  if (h.layout.bits === 32) {
    return { type: r.u32(at), offset: r.u32(at + 4), filesz: r.u32(at + 16), align: r.u32(at + 28) };
  }
  return { type: r.u32(at), offset: r.u64(at + 8), filesz: r.u64(at + 32), align: r.u64(at + 48) };
}

function segmentNotes(r: ByteReader, s: Segment): BinaryNote[] {
  const what = 'PT_NOTE segment';
  return readNotes(r, s.offset, s.filesz, noteAlignment(s.align, r.file, what), what);
}

function sectionNotes(r: ByteReader, s: Section): BinaryNote[] {
  const what = 'SHT_NOTE section';
  return readNotes(r, s.offset, s.size, noteAlignment(s.addralign, r.file, what), what);
}

function checkCount(r: ByteReader, what: string, count: number): void {
  if (count > MAX_TABLE_ENTRIES) {
    throw badFormat(r.file, `ELF file declares too many ${what}`, {
      expected: `at most ${MAX_TABLE_ENTRIES}`,
      found: String(count),
    });
  }
}

function checkEntrySize(r: ByteReader, what: string, size: number, min: number): void {
  if (size < min) {
    throw badFormat(r.file, `ELF ${what} entries are too small`, { expected: `at least ${min} bytes`, found: `${size} bytes` });
  }
}

function fileKind(type: number, segments: Segment[]): BinaryInfo['kind'] {
  switch (type) {
    case ET_REL:
      return 'relocatable';
    case ET_EXEC:
      return 'executable';
    case ET_DYN:
      // A PIE is ET_DYN too; only an executable asks for a program interpreter.
      return segments.some((s) => s.type === PT_INTERP) ? 'executable' : 'shared';
    default:
      return 'other';
  }
}

function gnuBuildId(notes: BinaryNote[]): string | null {
  const note = notes.find((n) => n.owner === 'GNU' && n.type === NT_GNU_BUILD_ID && n.desc.length > 0);
  return note === undefined ? null : toHex(note.desc);
}

/** process.arch for an e_machine, when the machine alone decides it. */
export function elfArchName(machine: number): string | null {
  switch (machine) {
    case EM_386:
      return 'ia32';
    case EM_MIPS:
      return 'mips';
    case EM_PPC:
      return 'ppc';
    case EM_PPC64:
      return 'ppc64';
    case EM_S390:
      return 's390x';
    case EM_ARM:
      return 'arm';
    case EM_X86_64:
      return 'x64';
    case EM_AARCH64:
      return 'arm64';
    case EM_RISCV:
      return 'riscv64';
    case EM_LOONGARCH:
      return 'loong64';
    default:
      return null;
  }
}

/**
 * process.arch for a file. Some machines span several Node arches (MIPS by
 * byte order, S/390 by word size), and some word sizes have no Node port
 * (x32, arm64 ILP32, riscv32), so those come back null rather than claiming a
 * match dlopen would refuse.
 */
export function archForElf(machine: number, bits: 32 | 64, littleEndian: boolean): string | null {
  switch (machine) {
    case EM_MIPS:
      if (bits === 64) return littleEndian ? 'mips64el' : null;
      return littleEndian ? 'mipsel' : 'mips';
    case EM_S390:
      return bits === 64 ? 's390x' : 's390';
    case EM_X86_64:
    case EM_AARCH64:
    case EM_RISCV:
    case EM_LOONGARCH:
    case EM_PPC64:
      return bits === 64 ? elfArchName(machine) : null;
    default:
      return elfArchName(machine);
  }
}
