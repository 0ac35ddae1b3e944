// What a loadable plugin file must look like on this process's machine.
import os from 'node:os';

export interface TargetPlatform {
  readonly platform: NodeJS.Platform;
  readonly format: 'elf' | 'macho' | null;
  readonly arch: string;
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  readonly napiVersion: number;
}

const ARCH_BITS: Record<string, 32 | 64> = {
  x64: 64,
  arm64: 64,
  ppc64: 64,
  s390x: 64,
  riscv64: 64,
  loong64: 64,
  mips64el: 64,
  ia32: 32,
  arm: 32,
  mips: 32,
  mipsel: 32,
  ppc: 32,
  s390: 32,
};

export function currentPlatform(): TargetPlatform {
  return {
    platform: process.platform,
    format: process.platform === 'darwin' ? 'macho' : process.platform === 'win32' ? null : 'elf',
    arch: process.arch,
    bits: ARCH_BITS[process.arch] ?? 64,
    littleEndian: os.endianness() === 'LE',
    napiVersion: Number(process.versions.napi ?? 0),
  };
}

export function describePlatform(t: TargetPlatform): string {
  return `${t.platform}-${t.arch} (${t.format ?? 'no plugin format'}, ${t.bits}-bit, ${
    t.littleEndian ? 'little' : 'big'
  }-endian, Node-API ${t.napiVersion})`;
}
