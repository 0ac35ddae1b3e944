// The plughost descriptor a native plugin carries in its ELF note / Mach-O
// section. Byte layout: docs/native-descriptor.md and native/include/plughost.h.
import { PluginFormatError } from '../errors.js';
import type { BinaryNote } from './binary-info.js';

export const NOTE_OWNER = 'plughost';
export const NOTE_TYPE_DESCRIPTOR = 0x50480001;
export const DESCRIPTOR_SIZE = 180;
export const DESCRIPTOR_VERSION = 1;
const MAGIC = 'PLUGHOST';

/** Plugin API version this host implements (native/include/plughost.h). */
export const HOST_API_VERSION = Object.freeze({ major: 1, minor: 0 });

export interface ApiVersion {
  readonly major: number;
  readonly minor: number;
}

export interface NativeDescriptor {
  readonly descriptorVersion: number;
  readonly apiVersion: ApiVersion;
  readonly napiVersion: number;
  readonly flags: number;
  readonly name: string;
  readonly version: string;
  readonly buildId: string;
}

/** The raw descriptor bytes from the file's notes; refuses none or several. */
export function findDescriptorNote(notes: readonly BinaryNote[], file: string): Uint8Array {
  const found = notes.filter((n) => n.owner === NOTE_OWNER && n.type === NOTE_TYPE_DESCRIPTOR);
  if (found.length === 0) {
    throw new PluginFormatError('PLUGHOST_NO_DESCRIPTOR', 'no plughost descriptor note: not a plughost plugin', {
      file,
      expected: `a "${NOTE_OWNER}" note of type 0x${NOTE_TYPE_DESCRIPTOR.toString(16)}`,
      found: notes.length === 0 ? 'no notes' : notes.map((n) => `${n.owner}/0x${n.type.toString(16)}`).join(', '),
      hint: 'Declare the plugin with PLUGHOST_PLUGIN(...) from native/include/plughost.h',
    });
  }
  if (found.length > 1) {
    throw new PluginFormatError('PLUGHOST_BAD_DESCRIPTOR', 'more than one plughost descriptor note', {
      file,
      expected: '1',
      found: String(found.length),
      hint: 'Link exactly one object that uses PLUGHOST_PLUGIN into the plugin',
    });
  }
  return found[0]!.desc;
}

export function parseDescriptor(bytes: Uint8Array, littleEndian: boolean, file: string): NativeDescriptor {
  const bad = (what: string, expected: string, found: string): PluginFormatError =>
    new PluginFormatError('PLUGHOST_BAD_DESCRIPTOR', `malformed plughost descriptor: ${what}`, { file, expected, found });

  if (bytes.length < 12) throw bad('too short', `${DESCRIPTOR_SIZE} bytes`, `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = latin1(bytes.subarray(0, 8));
  if (magic !== MAGIC) throw bad('magic', JSON.stringify(MAGIC), JSON.stringify(magic));
  const descriptorVersion = view.getUint16(8, littleEndian);
  if (descriptorVersion !== DESCRIPTOR_VERSION) {
    throw new PluginFormatError('PLUGHOST_BAD_DESCRIPTOR', 'unsupported descriptor version', {
      file,
      expected: String(DESCRIPTOR_VERSION),
      found: String(descriptorVersion),
      hint: descriptorVersion > DESCRIPTOR_VERSION ? 'The plugin was built with a newer plughost; upgrade the host' : undefined,
    });
  }
  if (bytes.length !== DESCRIPTOR_SIZE) throw bad('size', `${DESCRIPTOR_SIZE} bytes`, `${bytes.length} bytes`);

  return {
    descriptorVersion,
    apiVersion: { major: view.getUint16(10, littleEndian), minor: view.getUint16(12, littleEndian) },
    napiVersion: view.getUint16(14, littleEndian),
    flags: view.getUint32(16, littleEndian),
    name: cString(bytes, 20, 64, 'name', bad),
    version: cString(bytes, 84, 32, 'version', bad),
    buildId: cString(bytes, 116, 64, 'build ID', bad),
  };
}

export function formatApiVersion(v: ApiVersion): string {
  return `${v.major}.${v.minor}`;
}

function cString(
  bytes: Uint8Array,
  offset: number,
  size: number,
  field: string,
  bad: (what: string, expected: string, found: string) => Error,
): string {
  const field_ = bytes.subarray(offset, offset + size);
  const end = field_.indexOf(0);
  if (end < 0) throw bad(`${field} is not NUL-terminated`, `at most ${size - 1} bytes`, `${size} bytes`);
  if (end === 0) throw bad(`${field} is empty`, 'a non-empty string', 'empty');
  const text = latin1(field_.subarray(0, end));
  if (!/^[\x20-\x7e]+$/.test(text)) throw bad(`${field} is not printable ASCII`, 'printable ASCII', JSON.stringify(text));
  return text;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
