import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { PluginFormatError } from '../../src/errors.js';
import { archName, identifyBinary, readBinary, selectSlice, type BinaryNote } from '../../src/native/binary.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CRC32_NODE = path.join(root, 'build/Release/crc32.node');

const PLUGHOST_TYPE = 0x50480001;
const NT_GNU_BUILD_ID = 3;

const EM_386 = 3;
const EM_MIPS = 8;
const EM_PPC64 = 21;
const EM_X86_64 = 62;
const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const PT_LOAD = 1;
const PT_INTERP = 3;
const PT_NOTE = 4;
const SHT_STRTAB = 3;
const SHT_NOTE = 7;

const CPU_TYPE_X86 = 7;
const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;
const CPU_TYPE_POWERPC = 18;
const MH_DYLIB = 6;
const MH_BUNDLE = 8;

// ---------------------------------------------------------------------------
// Builders for synthetic files. They lay everything out up front and then
// write into a fixed buffer, so offsets are easy to point at when corrupting.

interface NoteSpec {
  owner: string;
  type: number;
  desc: Uint8Array;
}

class Out {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(
    size: number,
    private readonly le: boolean,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, this.le);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, this.le);
  }
  u64(at: number, v: number): void {
    this.view.setBigUint64(at, BigInt(v), this.le);
  }
  word(bits: 32 | 64, at: number, v: number): void {
    if (bits === 32) this.u32(at, v);
    else this.u64(at, v);
  }
  raw(at: number, data: Uint8Array): void {
    this.bytes.set(data, at);
  }
  text(at: number, s: string): void {
    this.raw(at, new TextEncoder().encode(s));
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

function encodeNotes(notes: NoteSpec[], le: boolean, align: 4 | 8): Uint8Array {
  const placed: { note: NoteSpec; at: number; namesz: number; descAt: number }[] = [];
  let pos = 0;
  for (const note of notes) {
    const namesz = note.owner.length === 0 ? 0 : note.owner.length + 1;
    const descAt = alignUp(pos + 12 + namesz, align);
    placed.push({ note, at: pos, namesz, descAt });
    pos = alignUp(descAt + note.desc.length, align);
  }
  const out = new Out(pos, le);
  for (const { note, at, namesz, descAt } of placed) {
    out.u32(at, namesz);
    out.u32(at + 4, note.desc.length);
    out.u32(at + 8, note.type);
    out.text(at + 12, note.owner);
    out.raw(descAt, note.desc);
  }
  return out.bytes;
}

interface ElfSpec {
  bits: 32 | 64;
  le: boolean;
  machine?: number;
  type?: number;
  /** Each group becomes one PT_NOTE segment (or one SHT_NOTE section). */
  noteGroups: NoteSpec[][];
  notesIn?: 'segments' | 'sections';
  noteAlign?: 4 | 8;
  interp?: boolean;
  /** No program headers at all, as in an ET_REL object. */
  noProgramHeaders?: boolean;
}

interface BuiltElf {
  bytes: Uint8Array;
  phoff: number;
  shoff: number;
  noteOffsets: number[];
}

function buildElf(spec: ElfSpec): BuiltElf {
  const { bits, le } = spec;
  const notesIn = spec.notesIn ?? 'segments';
  const align = spec.noteAlign ?? 4;
  const ehsize = bits === 64 ? 64 : 52;
  const phentsize = bits === 64 ? 56 : 32;
  const shentsize = bits === 64 ? 64 : 40;
  const groups = spec.noteGroups.map((g) => encodeNotes(g, le, align));
  const interp = '/lib/ld-plughost-test.so\0';
  const shstrtab = '\0.note\0.shstrtab\0';

  const phdrCount = spec.noProgramHeaders ? 0 : 1 + (spec.interp ? 1 : 0) + (notesIn === 'segments' ? groups.length : 0);
  const phoff = phdrCount === 0 ? 0 : ehsize;
  let offset = ehsize + phdrCount * phentsize;
  const noteOffsets: number[] = [];
  for (const g of groups) {
    offset = alignUp(offset, align);
    noteOffsets.push(offset);
    offset += g.length;
  }
  const interpOffset = offset;
  offset += interp.length;
  const shstrtabOffset = offset;
  offset += shstrtab.length;
  const shoff = alignUp(offset, 8);
  const sections = [
    { name: 0, type: 0, offset: 0, size: 0, align: 0 },
    ...groups.map((g, i) => ({ name: 1, type: SHT_NOTE, offset: noteOffsets[i]!, size: g.length, align })),
    { name: 7, type: SHT_STRTAB, offset: shstrtabOffset, size: shstrtab.length, align: 1 },
  ];
  const total = shoff + sections.length * shentsize;
  const phdrs: { type: number; offset: number; size: number; align: number }[] = [];
  if (phdrCount > 0) {
    phdrs.push({ type: PT_LOAD, offset: 0, size: total, align: 0x1000 });
    if (spec.interp) phdrs.push({ type: PT_INTERP, offset: interpOffset, size: interp.length, align: 1 });
    if (notesIn === 'segments') {
      groups.forEach((g, i) => phdrs.push({ type: PT_NOTE, offset: noteOffsets[i]!, size: g.length, align }));
    }
  }

  const out = new Out(total, le);
  out.raw(0, Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, le ? 1 : 2, 1));
  out.u16(16, spec.type ?? ET_DYN);
  out.u16(18, spec.machine ?? EM_X86_64);
  out.u32(20, 1);
  const w = bits === 64 ? 8 : 4;
  out.word(bits, 24 + w, phoff); // e_phoff
  out.word(bits, 24 + 2 * w, shoff); // e_shoff
  const at = 24 + 3 * w + 4; // e_ehsize
  out.u16(at, ehsize);
  out.u16(at + 2, phentsize);
  out.u16(at + 4, phdrs.length);
  out.u16(at + 6, shentsize);
  out.u16(at + 8, sections.length);
  out.u16(at + 10, sections.length - 1);

  phdrs.forEach((p, i) => {
    const ph = phoff + i * phentsize;
    out.u32(ph, p.type);
    if (bits === 64) {
      out.u32(ph + 4, 4); // PF_R
      out.u64(ph + 8, p.offset);
      out.u64(ph + 16, p.offset);
      out.u64(ph + 24, p.offset);
      out.u64(ph + 32, p.size);
      out.u64(ph + 40, p.size);
      out.u64(ph + 48, p.align);
    } else {
      out.u32(ph + 4, p.offset);
      out.u32(ph + 8, p.offset);
      out.u32(ph + 12, p.offset);
      out.u32(ph + 16, p.size);
      out.u32(ph + 20, p.size);
      out.u32(ph + 24, 4);
      out.u32(ph + 28, p.align);
    }
  });
  groups.forEach((g, i) => out.raw(noteOffsets[i]!, g));
  out.text(interpOffset, interp);
  out.text(shstrtabOffset, shstrtab);
  sections.forEach((s, i) => {
    const sh = shoff + i * shentsize;
    out.u32(sh, s.name);
    out.u32(sh + 4, s.type);
    out.word(bits, sh + 8 + 2 * w, s.offset);
    out.word(bits, sh + 8 + 3 * w, s.size);
    out.word(bits, sh + 16 + 4 * w, s.align);
  });
  return { bytes: out.bytes, phoff, shoff, noteOffsets };
}

interface MachSpec {
  bits: 32 | 64;
  le: boolean;
  cputype: number;
  filetype: number;
  notes: NoteSpec[];
  uuid?: Uint8Array;
}

function buildMachO(spec: MachSpec): Uint8Array {
  const { bits, le } = spec;
  const headerSize = bits === 64 ? 32 : 28;
  const segSize = bits === 64 ? 72 : 56;
  const sectSize = bits === 64 ? 80 : 68;
  const notes = encodeNotes(spec.notes, le, 4);
  const sizeofcmds = segSize + (segSize + sectSize) + (spec.uuid ? 24 : 0);
  const dataOff = alignUp(headerSize + sizeofcmds, 8);
  const total = dataOff + notes.length;
  const out = new Out(total, le);

  out.u32(0, bits === 64 ? 0xfeedfacf : 0xfeedface);
  out.u32(4, spec.cputype);
  out.u32(8, 3);
  out.u32(12, spec.filetype);
  out.u32(16, spec.uuid ? 3 : 2);
  out.u32(20, sizeofcmds);

  const segment = (at: number, name: string, fileoff: number, filesize: number, nsects: number): void => {
    const w = bits === 64 ? 8 : 4;
    out.u32(at, bits === 64 ? 0x19 : 0x1);
    out.u32(at + 4, segSize + nsects * sectSize);
    out.text(at + 8, name);
    out.word(bits, at + 24 + 2 * w, fileoff);
    out.word(bits, at + 24 + 3 * w, filesize);
    out.u32(at + 24 + 4 * w + 8, nsects);
  };
  let at = headerSize;
  segment(at, '__TEXT', 0, dataOff, 0);
  at += segSize;
  segment(at, '__DATA', dataOff, notes.length, 1);
  const sect = at + segSize;
  out.text(sect, '__plughost');
  out.text(sect + 16, '__DATA');
  if (bits === 64) {
    out.u64(sect + 40, notes.length);
    out.u32(sect + 48, dataOff);
    out.u32(sect + 52, 2);
  } else {
    out.u32(sect + 36, notes.length);
    out.u32(sect + 40, dataOff);
    out.u32(sect + 44, 2);
  }
  at = sect + sectSize;
  if (spec.uuid) {
    out.u32(at, 0x1b);
    out.u32(at + 4, 24);
    out.raw(at + 8, spec.uuid);
  }
  out.raw(dataOff, notes);
  return out.bytes;
}

function buildFat(slices: { cputype: number; cpusubtype?: number; bytes: Uint8Array }[]): Uint8Array {
  const offsets: number[] = [];
  let offset = 8 + slices.length * 20;
  for (const s of slices) {
    offset = alignUp(offset, 16);
    offsets.push(offset);
    offset += s.bytes.length;
  }
  const out = new Out(offset, false); // fat headers are always big-endian
  out.u32(0, 0xcafebabe);
  out.u32(4, slices.length);
  slices.forEach((s, i) => {
    const at = 8 + i * 20;
    out.u32(at, s.cputype);
    out.u32(at + 4, s.cpusubtype ?? 0);
    out.u32(at + 8, offsets[i]!);
    out.u32(at + 12, s.bytes.length);
    out.u32(at + 16, 4);
    out.raw(offsets[i]!, s.bytes);
  });
  return out.bytes;
}

// ---------------------------------------------------------------------------
// Fixtures.

function descriptorDesc(): Uint8Array {
  const desc = new Uint8Array(180);
  desc.set(new TextEncoder().encode('PLUGHOST'));
  desc.set(new TextEncoder().encode('synthetic'), 20);
  return desc;
}

const BUILD_ID = Uint8Array.from({ length: 20 }, (_, i) => i * 13 + 1);
const BUILD_ID_HEX = Buffer.from(BUILD_ID).toString('hex');
const UUID = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 - i);

const TWO_NOTES: NoteSpec[] = [
  { owner: 'GNU', type: NT_GNU_BUILD_ID, desc: BUILD_ID },
  { owner: 'plughost', type: PLUGHOST_TYPE, desc: descriptorDesc() },
];

function plainNotes(notes: BinaryNote[]): { owner: string; type: number; desc: number[] }[] {
  return notes.map((n) => ({ owner: n.owner, type: n.type, desc: Array.from(n.desc) }));
}

function expectNotes(actual: BinaryNote[], expected: NoteSpec[]): void {
  expect(plainNotes(actual)).toEqual(plainNotes(expected));
}

/** The error thrown by fn, asserting it is a PluginFormatError. */
function formatError(fn: () => unknown): PluginFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PluginFormatError);
    return err as PluginFormatError;
  }
  throw new Error('expected a PluginFormatError, nothing was thrown');
}

/** Every proper prefix must fail as truncated, and nothing but PluginFormatError may escape. */
function expectEveryTruncationRejected(bytes: Uint8Array): void {
  const wrong: string[] = [];
  for (let n = 0; n < bytes.length; n++) {
    try {
      readBinary(bytes.slice(0, n), 'cut.node');
      wrong.push(`${n}: accepted`);
    } catch (err) {
      if (!(err instanceof PluginFormatError)) wrong.push(`${n}: ${String(err)}`);
      else if (err.code !== 'PLUGHOST_FILE_TRUNCATED') wrong.push(`${n}: ${err.code} ${err.message}`);
    }
  }
  expect(wrong).toEqual([]);
}

function u16(bytes: Uint8Array, at: number, v: number, le: boolean): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(at, v, le);
}
function u32(bytes: Uint8Array, at: number, v: number, le: boolean): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, v, le);
}

// ---------------------------------------------------------------------------

describe('real files', () => {
  it.skipIf(process.platform !== 'linux' || !fs.existsSync('/bin/ls'))('reads /bin/ls', () => {
    const info = readBinary(fs.readFileSync('/bin/ls'), '/bin/ls');
    expect(info.format).toBe('elf');
    expect(info.bits).toBe(64);
    expect(info.arch).toBe(process.arch);
    expect(info.kind).toBe('executable'); // a PIE: ET_DYN with PT_INTERP
    expect(info.gnuBuildId).toMatch(/^[0-9a-f]{40}$/);
    expect(info.notes.some((n) => n.owner === 'GNU' && n.type === NT_GNU_BUILD_ID)).toBe(true);
  });

  it.skipIf(!fs.existsSync(CRC32_NODE))('reads the crc32 plugin and agrees with readelf', () => {
    const info = readBinary(fs.readFileSync(CRC32_NODE), CRC32_NODE);
    expect(info).toMatchObject({ format: 'elf', bits: 64, littleEndian: true, kind: 'shared', arch: 'x64' });
    const note = info.notes.find((n) => n.owner === 'plughost');
    expect(note?.type).toBe(PLUGHOST_TYPE);
    expect(note?.desc.length).toBe(180);
    expect(Buffer.from(note!.desc.subarray(0, 8)).toString('latin1')).toBe('PLUGHOST');

    const readelf = execFileSync('readelf', ['-n', CRC32_NODE], { encoding: 'utf8' });
    const buildId = /Build ID: ([0-9a-f]+)/.exec(readelf)?.[1];
    expect(buildId).toBeDefined();
    expect(info.gnuBuildId).toBe(buildId);
  });
});

describe('synthetic ELF', () => {
  it('reads an ELF64 LSB shared object with two notes in one PT_NOTE', () => {
    const info = readBinary(buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] }).bytes, 'a.node');
    expect(info).toMatchObject({ format: 'elf', bits: 64, littleEndian: true, machine: EM_X86_64, arch: 'x64', kind: 'shared' });
    expectNotes(info.notes, TWO_NOTES);
    expect(info.gnuBuildId).toBe(BUILD_ID_HEX);
  });

  it('reads an ELF32 LSB shared object', () => {
    const info = readBinary(buildElf({ bits: 32, le: true, machine: EM_386, noteGroups: [TWO_NOTES] }).bytes, 'a.node');
    expect(info).toMatchObject({ format: 'elf', bits: 32, littleEndian: true, machine: EM_386, arch: 'ia32', kind: 'shared' });
    expectNotes(info.notes, TWO_NOTES);
    expect(info.gnuBuildId).toBe(BUILD_ID_HEX);
  });

  it('reads an ELF64 MSB (ppc64) shared object', () => {
    const info = readBinary(buildElf({ bits: 64, le: false, machine: EM_PPC64, noteGroups: [TWO_NOTES] }).bytes, 'a.node');
    expect(info).toMatchObject({ bits: 64, littleEndian: false, machine: EM_PPC64, arch: 'ppc64', kind: 'shared' });
    expectNotes(info.notes, TWO_NOTES);
  });

  it('reads an ELF32 MSB file and names MIPS by byte order', () => {
    const big = readBinary(buildElf({ bits: 32, le: false, machine: EM_MIPS, noteGroups: [TWO_NOTES] }).bytes, 'a.node');
    expect(big).toMatchObject({ bits: 32, littleEndian: false, arch: 'mips' });
    expectNotes(big.notes, TWO_NOTES);
    const little = readBinary(buildElf({ bits: 32, le: true, machine: EM_MIPS, noteGroups: [] }).bytes, 'a.node');
    expect(little.arch).toBe('mipsel');
  });

  it('collects notes from every PT_NOTE segment', () => {
    const [first, second] = TWO_NOTES;
    const info = readBinary(buildElf({ bits: 64, le: true, noteGroups: [[first!], [second!]] }).bytes, 'a.node');
    expectNotes(info.notes, TWO_NOTES);
  });

  it('falls back to SHT_NOTE sections when there is no PT_NOTE', () => {
    const [first, second] = TWO_NOTES;
    for (const bits of [32, 64] as const) {
      const built = buildElf({ bits, le: bits === 64, noteGroups: [[first!], [second!]], notesIn: 'sections' });
      const info = readBinary(built.bytes, 'a.node');
      expectNotes(info.notes, TWO_NOTES);
      expect(info.gnuBuildId).toBe(BUILD_ID_HEX);
      expect(info.kind).toBe('shared');
    }
  });

  it('honours 8-byte note alignment in PT_NOTE', () => {
    // namesz 5: 4-byte alignment would put the desc at 20, 8-byte puts it at 24.
    const notes: NoteSpec[] = [
      { owner: 'ABCD', type: 5, desc: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) },
      { owner: 'GNU', type: NT_GNU_BUILD_ID, desc: BUILD_ID },
    ];
    const info = readBinary(buildElf({ bits: 64, le: true, noteGroups: [notes], noteAlign: 8 }).bytes, 'a.node');
    expectNotes(info.notes, notes);
    expect(info.gnuBuildId).toBe(BUILD_ID_HEX);
  });

  it('classifies ELF file types', () => {
    const kind = (spec: Partial<ElfSpec>): string =>
      readBinary(buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES], ...spec }).bytes, 'a').kind;
    expect(kind({ type: ET_DYN })).toBe('shared');
    expect(kind({ type: ET_DYN, interp: true })).toBe('executable');
    expect(kind({ type: ET_EXEC })).toBe('executable');
    expect(kind({ type: ET_REL, noProgramHeaders: true, notesIn: 'sections' })).toBe('relocatable');
    expect(kind({ type: 4 })).toBe('other');
  });

  it('reads an object with no program headers and notes in a section', () => {
    const built = buildElf({ bits: 64, le: true, type: ET_REL, noProgramHeaders: true, notesIn: 'sections', noteGroups: [TWO_NOTES] });
    expectNotes(readBinary(built.bytes, 'a.o').notes, TWO_NOTES);
  });

  it('returns no build id when there is no GNU build-id note', () => {
    const info = readBinary(buildElf({ bits: 64, le: true, noteGroups: [[TWO_NOTES[1]!]] }).bytes, 'a.node');
    expect(info.gnuBuildId).toBeNull();
  });
});

describe('synthetic Mach-O', () => {
  it('reads a 64-bit arm64 bundle with a __DATA,__plughost note and LC_UUID', () => {
    const notes = [TWO_NOTES[1]!];
    const bytes = buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_ARM64, filetype: MH_BUNDLE, notes, uuid: UUID });
    const info = readBinary(bytes, 'a.node');
    expect(info).toMatchObject({ format: 'macho', bits: 64, littleEndian: true, machine: CPU_TYPE_ARM64, arch: 'arm64', kind: 'shared' });
    expectNotes(info.notes, notes);
    expect(info.gnuBuildId).toBe(Buffer.from(UUID).toString('hex'));
    expect(info.gnuBuildId).toHaveLength(32);
  });

  it('reads a 32-bit Mach-O in both byte orders', () => {
    const little = readBinary(buildMachO({ bits: 32, le: true, cputype: CPU_TYPE_X86, filetype: MH_DYLIB, notes: TWO_NOTES }), 'a');
    expect(little).toMatchObject({ format: 'macho', bits: 32, littleEndian: true, arch: 'ia32', kind: 'shared', gnuBuildId: null });
    expectNotes(little.notes, TWO_NOTES);

    const big = readBinary(buildMachO({ bits: 32, le: false, cputype: CPU_TYPE_POWERPC, filetype: 2, notes: TWO_NOTES }), 'a');
    expect(big).toMatchObject({ bits: 32, littleEndian: false, arch: 'ppc', kind: 'executable' });
    expectNotes(big.notes, TWO_NOTES);
  });

  it('rejects a load command with a zero cmdsize instead of looping', () => {
    const bytes = buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_ARM64, filetype: MH_BUNDLE, notes: TWO_NOTES });
    u32(bytes, 32 + 4, 0, true);
    expect(formatError(() => readBinary(bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
  });

  it('rejects every truncation of a Mach-O file as truncated', () => {
    expectEveryTruncationRejected(
      buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_ARM64, filetype: MH_BUNDLE, notes: TWO_NOTES, uuid: UUID }),
    );
  });
});

describe('universal (fat) Mach-O', () => {
  const x64 = buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_X86_64, filetype: MH_BUNDLE, notes: TWO_NOTES });
  const arm64 = buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_ARM64, filetype: MH_BUNDLE, notes: TWO_NOTES, uuid: UUID });
  const fat = buildFat([
    { cputype: CPU_TYPE_X86_64, cpusubtype: 3, bytes: x64 },
    { cputype: CPU_TYPE_ARM64, bytes: arm64 },
  ]);

  it('selects each slice by Node arch name', () => {
    expect(Array.from(selectSlice(fat, 'x64', 'fat.node'))).toEqual(Array.from(x64));
    expect(Array.from(selectSlice(fat, 'arm64', 'fat.node'))).toEqual(Array.from(arm64));
    expect(readBinary(selectSlice(fat, 'x64', 'fat.node'), 'fat.node').arch).toBe('x64');
    expect(readBinary(selectSlice(fat, 'arm64', 'fat.node'), 'fat.node').arch).toBe('arm64');
  });

  it('throws PLUGHOST_WRONG_ARCH listing the slices present', () => {
    const err = formatError(() => selectSlice(fat, 'ppc64', 'fat.node'));
    expect(err.code).toBe('PLUGHOST_WRONG_ARCH');
    expect(err.found).toBe('x64, arm64');
    expect(err.file).toBe('fat.node');
  });

  it('prefers an arm64 slice over arm64e', () => {
    const arm64e = buildMachO({ bits: 64, le: true, cputype: CPU_TYPE_ARM64, filetype: MH_BUNDLE, notes: [] });
    const both = buildFat([
      { cputype: CPU_TYPE_ARM64, cpusubtype: 0x80000002, bytes: arm64e },
      { cputype: CPU_TYPE_ARM64, bytes: arm64 },
    ]);
    expect(Array.from(selectSlice(both, 'arm64', 'fat'))).toEqual(Array.from(arm64));
  });

  it('returns a thin file unchanged', () => {
    expect(selectSlice(x64, 'arm64', 'thin.node')).toBe(x64);
  });

  it.skipIf(process.arch !== 'x64' && process.arch !== 'arm64')('readBinary reads the slice for process.arch', () => {
    expect(readBinary(fat, 'fat.node').arch).toBe(process.arch);
  });

  it('identifies a fat file without choosing a slice', () => {
    expect(identifyBinary(fat, 'fat.node')).toEqual({ format: 'macho', fat: true });
  });

  it('rejects every truncation of a fat file as truncated', () => {
    // Truncations inside the slice table would otherwise read as another arch.
    const wrong: string[] = [];
    for (let n = 0; n < fat.length; n++) {
      try {
        selectSlice(fat.slice(0, n), 'arm64', 'cut.node');
        if (n >= 4) wrong.push(`${n}: accepted`);
      } catch (err) {
        if (!(err instanceof PluginFormatError) || err.code !== 'PLUGHOST_FILE_TRUNCATED') wrong.push(`${n}: ${String(err)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('treats a Java class file (same magic) as not a plugin', () => {
    const java = Uint8Array.of(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61, 0, 0, 0, 0);
    expect(formatError(() => readBinary(java, 'A.class')).code).toBe('PLUGHOST_BAD_FORMAT');
  });
});

describe('identifyBinary and archName', () => {
  it('identifies a thin file from its header', () => {
    const built = buildElf({ bits: 64, le: false, machine: EM_PPC64, noteGroups: [TWO_NOTES] });
    expect(identifyBinary(built.bytes, 'a')).toEqual({
      format: 'elf',
      fat: false,
      bits: 64,
      littleEndian: false,
      machine: EM_PPC64,
      arch: 'ppc64',
    });
  });

  it('maps machines to Node arch names', () => {
    expect(archName('elf', 62)).toBe('x64');
    expect(archName('elf', 183)).toBe('arm64');
    expect(archName('elf', 3)).toBe('ia32');
    expect(archName('elf', 40)).toBe('arm');
    expect(archName('elf', 21)).toBe('ppc64');
    expect(archName('elf', 22)).toBe('s390x');
    expect(archName('elf', 243)).toBe('riscv64');
    expect(archName('elf', 258)).toBe('loong64');
    expect(archName('elf', 8)).toBe('mips');
    expect(archName('elf', 9999)).toBeNull();
    expect(archName('macho', CPU_TYPE_X86_64)).toBe('x64');
    expect(archName('macho', CPU_TYPE_ARM64)).toBe('arm64');
    expect(archName('macho', CPU_TYPE_X86)).toBe('ia32');
    expect(archName('macho', 0x0200000c)).toBeNull(); // arm64_32
  });
});

describe('bad input', () => {
  it('reports an empty file as truncated', () => {
    const err = formatError(() => readBinary(new Uint8Array(0), 'empty.node'));
    expect(err.code).toBe('PLUGHOST_FILE_TRUNCATED');
    expect(err.file).toBe('empty.node');
    expect(err.message).toContain('empty.node');
  });

  it('reports a partial ELF magic as truncated', () => {
    expect(formatError(() => readBinary(Uint8Array.of(0x7f, 0x45, 0x4c), 'a')).code).toBe('PLUGHOST_FILE_TRUNCATED');
  });

  it('reports text as not an ELF or Mach-O file', () => {
    const err = formatError(() => readBinary(new TextEncoder().encode('hello world'), 'hello.node'));
    expect(err.code).toBe('PLUGHOST_BAD_FORMAT');
    expect(err.message).toContain('not an ELF or Mach-O file');
    expect(err.found).toBe('68 65 6c 6c 6f 20 77 6f');
    expect(err.file).toBe('hello.node');
  });

  it('rejects an invalid ELF class or data encoding', () => {
    const bytes = buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] }).bytes;
    bytes[4] = 3;
    expect(formatError(() => readBinary(bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
    bytes[4] = 2;
    bytes[5] = 0;
    expect(formatError(() => readBinary(bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
  });

  it('reports a program header table past the end as truncated', () => {
    const built = buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] });
    new DataView(built.bytes.buffer).setBigUint64(32, BigInt(built.bytes.length + 8), true);
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_FILE_TRUNCATED');
    new DataView(built.bytes.buffer).setBigUint64(32, 0xffff_ffff_ffff_fff0n, true);
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_FILE_TRUNCATED');
  });

  it('rejects a note whose descsz runs past its segment', () => {
    for (const descsz of [181, 0xffffffff]) {
      const built = buildElf({ bits: 64, le: true, noteGroups: [[TWO_NOTES[1]!]] });
      u32(built.bytes, built.noteOffsets[0]! + 4, descsz, true);
      expect(['PLUGHOST_FILE_TRUNCATED', 'PLUGHOST_BAD_FORMAT']).toContain(formatError(() => readBinary(built.bytes, 'a')).code);
    }
  });

  it('rejects a note whose namesz runs past its section', () => {
    const built = buildElf({ bits: 32, le: false, noteGroups: [TWO_NOTES], notesIn: 'sections' });
    u32(built.bytes, built.noteOffsets[0]!, 0x7fffffff, false);
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
  });

  it('survives zero-sized notes without looping', () => {
    const empty: NoteSpec = { owner: '', type: 0, desc: new Uint8Array(0) };
    const info = readBinary(buildElf({ bits: 64, le: true, noteGroups: [[empty, empty, empty]] }).bytes, 'a');
    expect(info.notes).toHaveLength(3);
  });

  it('rejects a huge e_phnum promptly', () => {
    const built = buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] });
    u16(built.bytes, 56, 0xfffe, true);
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_FILE_TRUNCATED');
  });

  it('rejects an extended (PN_XNUM) program header count over the cap', () => {
    const built = buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] });
    u16(built.bytes, 56, 0xffff, true);
    u32(built.bytes, built.shoff + 44, 0x7fffffff, true); // section 0 sh_info
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
  });

  it('rejects program header entries smaller than the class requires', () => {
    const built = buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES] });
    u16(built.bytes, 54, 0, true);
    expect(formatError(() => readBinary(built.bytes, 'a')).code).toBe('PLUGHOST_BAD_FORMAT');
  });

  it('rejects every truncation of a synthetic ELF as truncated', () => {
    expectEveryTruncationRejected(buildElf({ bits: 64, le: true, noteGroups: [TWO_NOTES], interp: true }).bytes);
    expectEveryTruncationRejected(buildElf({ bits: 32, le: false, noteGroups: [TWO_NOTES], notesIn: 'sections' }).bytes);
  });
});
