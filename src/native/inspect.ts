// Read-only views of a native plugin file: nothing here loads it.
import fs from 'node:fs';
import path from 'node:path';

import { PlughostError } from '../errors.js';
import { identifyBinary, readBinary, selectSlice } from './binary.js';
import { findDescriptorNote, parseDescriptor, type NativeDescriptor } from './descriptor.js';
import { currentPlatform } from '../platform/plugin-format.js';
import { checkPluginBytes, openPluginFile, type Expectations } from './verify.js';
import { sha256Hex } from '../util/sha256.js';

export interface NativeInspection {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly format: 'elf' | 'macho';
  readonly bits: 32 | 64;
  readonly arch: string | null;
  readonly machine: number;
  readonly kind: string;
  readonly gnuBuildId: string | null;
  /** null when the file has no readable descriptor; `problem` says why. */
  readonly descriptor: NativeDescriptor | null;
  readonly problem: PlughostError | null;
}

export interface NativeVerification {
  readonly file: string;
  readonly sha256: string;
  readonly descriptor: NativeDescriptor;
  readonly arch: string | null;
  readonly gnuBuildId: string | null;
}

/**
 * Describes a plugin file without loading it; throws only if it is not a
 * readable ELF/Mach-O file. A universal file is read through the slice for
 * `arch` (default: this process's).
 */
export function inspectNative(file: string, options: { readonly arch?: string } = {}): NativeInspection {
  const absolute = path.resolve(file);
  const { fd, bytes } = openPluginFile(absolute);
  fs.closeSync(fd);
  const id = identifyBinary(bytes, absolute);
  const image = id.fat ? selectSlice(bytes, options.arch ?? currentPlatform().arch, absolute) : bytes;
  const binary = readBinary(image, absolute);
  let descriptor: NativeDescriptor | null = null;
  let problem: PlughostError | null = null;
  try {
    descriptor = parseDescriptor(findDescriptorNote(binary.notes, absolute), binary.littleEndian, absolute);
  } catch (err) {
    if (!(err instanceof PlughostError)) throw err;
    problem = err;
  }
  return {
    file: absolute,
    size: bytes.length,
    sha256: sha256Hex(bytes),
    format: binary.format,
    bits: binary.bits,
    arch: binary.arch,
    machine: binary.machine,
    kind: binary.kind,
    gnuBuildId: binary.gnuBuildId,
    descriptor,
    problem,
  };
}

/** Runs every pre-load check the host runs, without loading; throws the first failure. */
export function verifyNative(file: string, expect: Expectations): NativeVerification {
  const absolute = path.resolve(file);
  const { fd, bytes } = openPluginFile(absolute);
  fs.closeSync(fd);
  const checked = checkPluginBytes(bytes, absolute, expect);
  return {
    file: absolute,
    sha256: checked.sha256,
    descriptor: checked.descriptor,
    arch: checked.binary.arch,
    gnuBuildId: checked.binary.gnuBuildId,
  };
}
