// What a plugin file's reader reports, whichever its format.

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
