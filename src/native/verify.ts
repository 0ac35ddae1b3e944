// Every check a native plugin file must pass before any of its code runs.
// Order matters and is documented (docs/native-plugins.md): cheap facts about
// the file first, so the error names the most basic problem.
import fs from 'node:fs';

import { PluginCompatibilityError, PluginFormatError, PluginIntegrityError, PlughostUsageError } from '../errors.js';
import { identifyBinary, readBinary, selectSlice, type BinaryInfo } from './binary.js';
import {
  HOST_API_VERSION,
  findDescriptorNote,
  formatApiVersion,
  parseDescriptor,
  type ApiVersion,
  type NativeDescriptor,
} from './descriptor.js';
import { currentPlatform, describePlatform, type TargetPlatform } from '../platform/plugin-format.js';
import { openRegularFile, type OpenedFile } from '../util/regular-file.js';
import { sha256Hex } from '../util/sha256.js';

export interface Expectations {
  /**
   * The build ID every plugin of this release carries; null: any (an
   * independently published plugin package, held to its plugin API and
   * Node-API versions; pinned by SHA-256 in a manifest).
   */
  readonly buildId: string | null;
  /** Who expects `buildId`, for the refusal's message (default "host"). */
  readonly buildIdOrigin?: string;
  /** Optional SHA-256 pin (hex) of the whole file. */
  readonly sha256?: string | undefined;
  readonly apiVersion?: ApiVersion;
  readonly target?: TargetPlatform;
}

export interface CheckedPlugin {
  readonly file: string;
  readonly binary: BinaryInfo;
  readonly descriptor: NativeDescriptor;
  /** The descriptor exactly as in the file, to compare with what the module exports once loaded. */
  readonly descriptorBytes: Uint8Array;
  readonly sha256: string;
  readonly size: number;
}

export type { OpenedFile } from '../util/regular-file.js';

/** Opens a plugin file and reads it whole, refusing anything but a regular file. The caller closes `fd`. */
export function openPluginFile(file: string): OpenedFile {
  return openRegularFile(file);
}

/** Runs every pre-load check on the file's bytes; throws the first failure. */
export function checkPluginBytes(bytes: Uint8Array, file: string, expect: Expectations): CheckedPlugin {
  const target = expect.target ?? currentPlatform();
  const hostApi = expect.apiVersion ?? HOST_API_VERSION;
  if (expect.buildId !== null && (typeof expect.buildId !== 'string' || expect.buildId === '')) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'an expected build ID is required to verify a plugin', {
      file,
    });
  }

  const image = checkMachine(bytes, file, target);
  const binary = readBinary(image, file);
  if (binary.kind !== 'shared') {
    throw new PluginFormatError('PLUGHOST_NOT_SHARED_OBJECT', 'not a loadable shared object', {
      file,
      expected: binary.format === 'elf' ? 'ET_DYN without an interpreter (.node)' : 'MH_BUNDLE or MH_DYLIB',
      found: binary.kind,
    });
  }

  const descriptorBytes = findDescriptorNote(binary.notes, file);
  const descriptor = parseDescriptor(descriptorBytes, binary.littleEndian, file);
  const plugin = `plugin "${descriptor.name}" ${descriptor.version}`;

  const api = descriptor.apiVersion;
  if (api.major !== hostApi.major || api.minor > hostApi.minor) {
    throw new PluginCompatibilityError('PLUGHOST_API_MISMATCH', `${plugin} targets plugin API ${formatApiVersion(api)}`, {
      file,
      expected: `${hostApi.major}.x with x <= ${hostApi.minor} (host)`,
      found: `${formatApiVersion(api)} (plugin)`,
      hint:
        api.major === hostApi.major
          ? 'The plugin needs a newer host; upgrade plughost'
          : 'Rebuild the plugin against this plughost version',
    });
  }

  if (expect.buildId !== null && descriptor.buildId !== expect.buildId) {
    throw new PluginCompatibilityError('PLUGHOST_BUILD_ID_MISMATCH', `${plugin} is from another build`, {
      file,
      expected: `"${expect.buildId}" (${expect.buildIdOrigin ?? 'host'})`,
      found: `"${descriptor.buildId}" (plugin)`,
      hint:
        `Plugins built with an app are in lockstep with it: rebuild the plugin with the app (plughost build), ` +
        `or with PLUGHOST_BUILD_ID=${expect.buildId}; a plugin published as its own npm package loads by package ` +
        '(host.loadPackage, or "package" in the manifest)',
    });
  }

  if (descriptor.napiVersion < 1 || descriptor.napiVersion > target.napiVersion) {
    throw new PluginCompatibilityError('PLUGHOST_NAPI_TOO_NEW', `${plugin} declares Node-API ${descriptor.napiVersion}`, {
      file,
      expected: `1..${target.napiVersion} (Node ${process.versions.node})`,
      found: String(descriptor.napiVersion),
      hint: 'Rebuild the plugin with a lower NAPI_VERSION, or run a newer Node.js',
    });
  }

  const sha256 = sha256Hex(bytes);
  if (expect.sha256 !== undefined && expect.sha256.toLowerCase() !== sha256) {
    throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', `${plugin} does not match its SHA-256 pin`, {
      file,
      expected: expect.sha256.toLowerCase(),
      found: sha256,
      hint: 'The file changed after it was pinned; rebuild the manifest or restore the file',
    });
  }

  return { file, binary, descriptor, descriptorBytes, sha256, size: bytes.length };
}

/** Format, word size and architecture, from the fixed header only, before parsing any table. */
function checkMachine(bytes: Uint8Array, file: string, target: TargetPlatform): Uint8Array {
  const id = identifyBinary(bytes, file);
  if (id.format !== target.format) {
    throw new PluginFormatError('PLUGHOST_WRONG_PLATFORM', `${formatName(id.format)} file cannot load on ${target.platform}`, {
      file,
      expected: formatName(target.format),
      found: formatName(id.format),
      hint: 'Build the plugin on (or for) the platform that runs the host',
    });
  }
  if (id.fat) return checkMachine(selectSlice(bytes, target.arch, file), file, target);
  if (id.bits !== target.bits) {
    throw new PluginFormatError('PLUGHOST_WRONG_WORD_SIZE', `${id.bits}-bit binary cannot load in a ${target.bits}-bit process`, {
      file,
      expected: `${target.bits}-bit`,
      found: `${id.bits}-bit`,
    });
  }
  if (id.arch !== target.arch || id.littleEndian !== target.littleEndian) {
    throw new PluginFormatError('PLUGHOST_WRONG_ARCH', 'built for another CPU architecture', {
      file,
      expected: describePlatform(target),
      found: `${id.arch ?? `unknown machine ${id.machine}`} (${id.littleEndian ? 'little' : 'big'}-endian)`,
      hint: 'Build or install the prebuild for this architecture',
    });
  }
  return bytes;
}

function formatName(format: 'elf' | 'macho' | null): string {
  return format === 'elf' ? 'ELF' : format === 'macho' ? 'Mach-O' : 'no native plugin format';
}

