// Reading a manifest.json: parse, validate, and resolve its paths.
import fs from 'node:fs';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
import { readRegularFile } from '../util/regular-file.js';
import { MANIFEST_FILE, ManifestSchema, type Manifest } from './schema.js';

export interface LoadedManifest {
  readonly manifest: Manifest;
  /** The directory plugin paths are relative to. */
  readonly dir: string;
  readonly file: string;
}

/** Far past any real manifest (one entry is well under 1 KiB). */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** `location` is a manifest.json or a directory holding one. */
export function readManifest(location: string): LoadedManifest {
  const absolute = path.resolve(location);
  const file = fs.existsSync(absolute) && fs.statSync(absolute).isDirectory() ? path.join(absolute, MANIFEST_FILE) : absolute;
  let raw: unknown;
  try {
    // Non-blocking and bounded: a FIFO or a huge file in its place is refused, not read.
    raw = JSON.parse(readRegularFile(file, MAX_MANIFEST_BYTES).toString('utf8'));
  } catch (err) {
    throw new PlughostUsageError('PLUGHOST_MANIFEST_INVALID', `cannot read the manifest: ${(err as Error).message}`, { file, cause: err });
  }
  return { manifest: parseManifest(raw, file), dir: path.dirname(file), file };
}

export function parseManifest(raw: unknown, file = MANIFEST_FILE): Manifest {
  const result = ManifestSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new PlughostUsageError('PLUGHOST_MANIFEST_INVALID', `invalid manifest: ${issues.join('; ')}`, {
    file,
    hint: 'See docs/manifest.md and schema/manifest.schema.json',
  });
}
