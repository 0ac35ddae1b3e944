// Reading a manifest.json: parse, validate, and resolve its paths.
import fs from 'node:fs';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
import { MANIFEST_FILE, ManifestSchema, type Manifest } from './schema.js';

export interface LoadedManifest {
  readonly manifest: Manifest;
  /** The directory plugin paths are relative to. */
  readonly dir: string;
  readonly file: string;
}

/** `location` is a manifest.json or a directory holding one. */
export function readManifest(location: string): LoadedManifest {
  const absolute = path.resolve(location);
  const file = fs.existsSync(absolute) && fs.statSync(absolute).isDirectory() ? path.join(absolute, MANIFEST_FILE) : absolute;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
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
