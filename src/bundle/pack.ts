// packBundle(): one reproducible .tar.gz for a deploy. The same inputs give
// the same bytes on any machine: entries sorted, one fixed mtime, uid/gid 0
// without user names, modes 0644/0755, no directory entries, and a gzip
// header without a timestamp or an OS of origin.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

import { Header, Pax } from 'tar';

import { PlughostError, PlughostUsageError } from '../errors.js';
import { readManifest } from '../manifest/load.js';
import { readApp } from './app.js';
import { collectGroups, type BundleFile } from './files.js';
import { sha256Hex } from '../util/sha256.js';

/** Every entry's mtime. Fixed, so that packing again gives the same bytes. */
export const BUNDLE_MTIME = new Date('2000-01-01T00:00:00.000Z');

const BLOCK = 512;
/** Byte 9 of a gzip member: the OS it was made on. 255 is "unknown", the same everywhere. */
const GZIP_OS_OFFSET = 9;

export interface PackOptions {
  /** A directory holding manifest.json, or the manifest file itself. */
  readonly manifestDir: string;
  /** The .tar.gz to write (replaced atomically). */
  readonly out: string;
  /**
   * Ship the app beside the manifest (its package.json, lockfile and what npm
   * would pack of it), so that `npm ci --omit=dev --ignore-scripts` on the
   * target installs the host. Default true; there is no app when the
   * manifest's directory has no package.json.
   */
  readonly app?: boolean;
  /** Called once per group of files (the manifest, each plugin, the app) as it is collected. */
  readonly onGroup?: (group: PackedGroup) => void;
}

export interface PackedGroup {
  /** "manifest", "native crc32", "dynamic textstats-ts", "app my-app". */
  readonly name: string;
  readonly files: number;
  readonly bytes: number;
}

export interface PackResult {
  /** The absolute path of the bundle. */
  readonly file: string;
  /** Archive paths, in archive order (sorted). */
  readonly entries: readonly string[];
  readonly groups: readonly PackedGroup[];
  /** Size of the .tar.gz. */
  readonly bytes: number;
  /** Size of the files packed, uncompressed. */
  readonly contentBytes: number;
  /** SHA-256 (hex) of the .tar.gz. */
  readonly sha256: string;
  /** The release's build ID, from the manifest. */
  readonly buildId: string;
  readonly ms: number;
}

/** Byte order, not locale order: the same on every machine. */
const byPath = (a: BundleFile, b: BundleFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Packs the manifest in `manifestDir`, the files it pins and (by default) the app beside it. */
export async function packBundle(options: PackOptions): Promise<PackResult> {
  const started = performance.now();
  const loaded = readManifest(options.manifestDir);
  const out = path.resolve(options.out);
  if (fs.statSync(out, { throwIfNoEntry: false })?.isDirectory()) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'the bundle to write is a directory', {
      file: out,
      expected: 'a file name, e.g. app.tar.gz',
      found: 'a directory',
      hint: `Write it into that directory: --out ${path.join(options.out, 'app.tar.gz')}`,
    });
  }
  const partial = `${out}.partial-${process.pid}`;
  const app = options.app === false ? null : readApp(loaded.dir);

  const groups = await collectGroups(loaded, app, new Set([out, partial]));
  const reports = groups.map((g) => ({ name: g.name, files: g.files.length, bytes: g.files.reduce((n, f) => n + f.size, 0) }));
  for (const report of reports) options.onGroup?.(report);
  const files = groups.flatMap((g) => g.files).sort(byPath);

  try {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await pipeline(Readable.from(tarBlocks(files)), zlib.createGzip({ level: 9 }), fs.createWriteStream(partial));
    const fd = fs.openSync(partial, 'r+');
    try {
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, GZIP_OS_OFFSET);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, out);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    if (!(err instanceof PlughostError) && typeof (err as NodeJS.ErrnoException).code === 'string') {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `cannot write the bundle: ${(err as Error).message}`, { file: out, cause: err });
    }
    throw err;
  }
  const bytes = fs.readFileSync(out);
  return {
    file: out,
    entries: files.map((f) => f.path),
    groups: reports,
    bytes: bytes.length,
    contentBytes: files.reduce((n, f) => n + f.size, 0),
    sha256: sha256Hex(bytes),
    buildId: loaded.manifest.buildId,
    ms: performance.now() - started,
  };
}

/** The tar stream: for each file a header (preceded by a PAX header when a path is too long), its bytes, padding; then two zero blocks. */
async function* tarBlocks(files: readonly BundleFile[]): AsyncGenerator<Buffer> {
  for (const file of files) {
    const data = await fs.promises.readFile(file.source);
    const fields = {
      path: file.path,
      mode: file.executable ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      size: data.length,
      mtime: BUNDLE_MTIME,
      type: 'File' as const,
      uname: '',
      gname: '',
    };
    const header = new Header(fields);
    if (header.encode()) yield new Pax({ path: file.path, size: data.length, uid: 0, gid: 0, mtime: BUNDLE_MTIME }).encode();
    yield header.block!;
    yield data;
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}
