// Real Mach-O plugins, cross-built on Linux: clang targets macOS, ld64.lld
// links the bundle, llvm-lipo makes the universal file. binary-format.test.ts
// pins the format rules on synthetic files; this pins that the reader, verify,
// the CLI and prebuild resolution handle what Apple-style linkers actually
// write (many segments and sections, LC_UUID, a code signature, page-aligned
// fat slices), and that LLVM's own readers agree with ours.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PlughostError } from '../../src/errors.js';
import { identifyBinary, readBinary, selectSlice } from '../../src/native/binary.js';
import { findDescriptorNote, HOST_API_VERSION, parseDescriptor } from '../../src/native/descriptor.js';
import { inspectNative, verifyNative } from '../../src/native/inspect.js';
import { currentPlatform, type TargetPlatform } from '../../src/platform/plugin-format.js';
import { checkPluginBytes, type Expectations } from '../../src/native/verify.js';
import { NoPrebuildError, resolvePrebuildDir } from '../../src/prebuild/resolve.js';
import { currentFacts, type RuntimeFacts } from '../../src/platform/runtime.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureDir = path.join(root, 'test/fixtures/native/macho');
const CLI = path.join(root, 'dist/src/cli/main.js');
const DEBIAN_PACKAGES = 'clang lld llvm';

const NAPI_VERSION = 8;
const BUILD_ID = 'macho-real-fixture';

type Arch = 'arm64' | 'x64';
type Fixture = Arch | 'universal';
const ARCHES: Arch[] = ['arm64', 'x64'];
const FIXTURES: Fixture[] = [...ARCHES, 'universal'];
const APPLE_ARCH: Record<Arch, string> = { arm64: 'arm64', x64: 'x86_64' };
const CPU_TYPE: Record<Arch, number> = { arm64: 0x0100000c, x64: 0x01000007 };
const other = (arch: Arch): Arch => (arch === 'arm64' ? 'x64' : 'arm64');
// A universal file is read through the slice this process would map; on any other host there is none.
const hostSlice = (ARCHES as string[]).includes(process.arch) ? (process.arch as Arch) : null;

// Read from the source, so the expectation cannot drift from what it declares.
const declared = /PLUGHOST_PLUGIN\("([^"]+)", "([^"]+)"/.exec(fs.readFileSync(path.join(fixtureDir, 'plugin.c'), 'utf8'));
if (declared === null) throw new Error(`${fixtureDir}/plugin.c has no PLUGHOST_PLUGIN("name", "version", ...)`);
const NAME = declared[1]!;
const expectedDescriptor = {
  descriptorVersion: 1,
  apiVersion: HOST_API_VERSION,
  napiVersion: NAPI_VERSION,
  flags: 0,
  name: NAME,
  version: declared[2],
  buildId: BUILD_ID,
};

/**
 * `name` on PATH, else the newest `name-NN`: Debian's lld-NN and llvm-NN
 * install only versioned names; the unversioned ones come with lld and llvm.
 */
function findTool(name: string): string | null {
  const pattern = new RegExp(`^${name.replace(/\./g, '\\.')}(?:-(\\d+))?$`);
  let best: { file: string; version: number } | null = null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = pattern.exec(entry);
      const version = m === null ? -1 : m[1] === undefined ? Infinity : Number(m[1]);
      if (m !== null && (best === null || version > best.version)) best = { file: path.join(dir, entry), version };
    }
  }
  return best?.file ?? null;
}

const tools = {
  clang: findTool('clang'),
  'ld64.lld': findTool('ld64.lld'),
  'llvm-lipo': findTool('llvm-lipo'),
  'llvm-objdump': findTool('llvm-objdump'),
  'llvm-readobj': findTool('llvm-readobj'),
};
const missing = (['clang', 'ld64.lld', 'llvm-lipo'] as const).filter((t) => tools[t] === null);
// A developer machine without the cross toolchain skips; CI must have it, so there the suite fails instead.
const skip = (tools.clang === null || tools['ld64.lld'] === null) && !process.env.CI;

/** A directory with node_api.h: the running Node's headers, else the node-api-headers package. */
function nodeApiInclude(): string | null {
  const candidates = [path.resolve(process.execPath, '../../include/node')];
  if (process.env.npm_config_nodedir) candidates.unshift(path.join(process.env.npm_config_nodedir, 'include/node'));
  candidates.push(path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'node-gyp', process.versions.node, 'include/node'));
  try {
    candidates.push(path.join(path.dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include'));
  } catch {
    // Not installed (it comes with cmake-js).
  }
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h'))) ?? null;
}

interface Built {
  files: Record<Fixture, string>;
  compilerOutput: string;
}

async function buildFixtures(dir: string): Promise<Built> {
  const nodeApi = nodeApiInclude();
  if (nodeApi === null) throw new Error('no node_api.h: install Node with its headers (Debian: libnode-dev) or node-api-headers');
  let compilerOutput = '';
  const thin = async (arch: Arch): Promise<string> => {
    const object = path.join(dir, `plugin-${arch}.o`);
    const output = path.join(dir, `plugin-${arch}.node`);
    // No macOS SDK: freestanding, seeing only clang's own headers, the fixture's <string.h> and Node-API's.
    const cc = await run(tools.clang!, [
      ...['-target', `${APPLE_ARCH[arch]}-apple-macos11`, '-Wall', '-Wextra', '-O2', '-ffreestanding', '-nostdlibinc'],
      ...['-I', path.join(fixtureDir, 'include'), '-I', path.join(root, 'native/include'), '-I', nodeApi],
      ...[`-DNAPI_VERSION=${NAPI_VERSION}`, `-DPLUGHOST_BUILD_ID="${BUILD_ID}"`],
      ...['-c', path.join(fixtureDir, 'plugin.c'), '-o', object],
    ]);
    compilerOutput += cc.stderr;
    // An MH_BUNDLE like node-gyp's, its napi_* symbols left for Node to bind; there is no libSystem to link.
    await run(tools['ld64.lld']!, [
      ...['-arch', APPLE_ARCH[arch], '-platform_version', 'macos', '11.0', '11.0'],
      ...['-bundle', '-undefined', 'dynamic_lookup', '-o', output, object],
    ]);
    return output;
  };
  const [arm64, x64] = await Promise.all([thin('arm64'), thin('x64')]);
  const universal = path.join(dir, 'plugin-universal.node');
  await run(tools['llvm-lipo']!, ['-create', x64, arm64, '-output', universal]);
  return { files: { arm64, x64, universal }, compilerOutput };
}

/** LC_UUID of each slice as llvm-objdump prints it, as lower-case hex; a thin file's under ''. */
async function objdumpUuids(file: string): Promise<Record<string, string>> {
  const { stdout } = await run(tools['llvm-objdump']!, ['--macho', '--private-headers', '--arch=all', file]);
  const uuids: Record<string, string> = {};
  let arch = '';
  for (const line of stdout.split('\n')) {
    arch = /\(architecture (\S+)\):$/.exec(line)?.[1] ?? arch;
    const uuid = /^\s*uuid ([0-9A-F-]{36})$/.exec(line)?.[1];
    if (uuid !== undefined) uuids[arch] = uuid.replace(/-/g, '').toLowerCase();
  }
  return uuids;
}

/** Where llvm-readobj says a thin file's __DATA,__plughost section lies. */
async function readobjNoteSection(file: string): Promise<{ offset: number; size: number }> {
  const { stdout } = await run(tools['llvm-readobj']!, ['--sections', file]);
  const m = /Name: __plughost .*\n\s*Segment: __DATA .*\n\s*Address: \S+\n\s*Size: (0x[0-9A-F]+)\n\s*Offset: (\d+)/.exec(stdout);
  if (m === null) throw new Error(`llvm-readobj shows no __DATA,__plughost section in ${file}:\n${stdout}`);
  return { size: Number(m[1]), offset: Number(m[2]) };
}

function thrown(fn: () => unknown): PlughostError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlughostError) return err;
    throw err;
  }
  throw new Error('expected a PlughostError, nothing was thrown');
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const darwin = (arch: string, extra: Partial<TargetPlatform> = {}): TargetPlatform => ({
  platform: 'darwin',
  format: 'macho',
  arch,
  bits: 64,
  littleEndian: true,
  napiVersion: currentPlatform().napiVersion,
  ...extra,
});

const darwinFacts = (arch: Arch): RuntimeFacts => ({
  ...currentFacts(),
  platform: 'darwin',
  arch,
  libc: null,
  armv: arch === 'arm64' ? '8' : '',
});

describe.skipIf(skip)(`real Mach-O plugins cross-built with clang and ld64.lld${skip ? ` (needs: apt-get install ${DEBIAN_PACKAGES})` : ''}`, () => {
  let dir: string | undefined;
  let files: Record<Fixture, string>;
  let compilerOutput: string;
  const bytes = (f: Fixture): Buffer => fs.readFileSync(files[f]);
  const uuidOf = (arch: Arch): string | null => readBinary(bytes(arch), files[arch]).gnuBuildId;

  beforeAll(async () => {
    if (missing.length > 0) {
      throw new Error(`cannot build the Mach-O fixtures: ${missing.join(', ')} not on PATH; on Debian: apt-get install ${DEBIAN_PACKAGES}`);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-macho-'));
    ({ files, compilerOutput } = await buildFixtures(dir));
  });

  afterAll(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('reader', () => {
    it('compiles the fixture without warnings (-Wall -Wextra)', () => {
      expect(compilerOutput).toBe('');
    });

    it.each(ARCHES)('reads the thin %s bundle: header, kind, descriptor and LC_UUID', (arch) => {
      const file = files[arch];
      expect(identifyBinary(bytes(arch), file)).toEqual({ format: 'macho', fat: false, bits: 64, littleEndian: true, machine: CPU_TYPE[arch], arch });
      const info = readBinary(bytes(arch), file);
      expect(info).toMatchObject({ format: 'macho', bits: 64, littleEndian: true, machine: CPU_TYPE[arch], arch, kind: 'shared' });
      expect(info.notes.map((n) => [n.owner, n.type])).toEqual([['plughost', 0x50480001]]);
      expect(parseDescriptor(findDescriptorNote(info.notes, file), info.littleEndian, file)).toEqual(expectedDescriptor);
      expect(info.gnuBuildId).toMatch(/^[0-9a-f]{32}$/);
    });

    it('reads the universal file slice by slice, each slice being the thin file byte for byte', () => {
      const fat = bytes('universal');
      expect(identifyBinary(fat, files.universal)).toEqual({ format: 'macho', fat: true });
      for (const arch of ARCHES) {
        const slice = selectSlice(fat, arch, files.universal);
        expect(Buffer.compare(slice, bytes(arch))).toBe(0);
        expect(readBinary(slice, files.universal)).toEqual(readBinary(bytes(arch), files[arch]));
      }
      expect(uuidOf('arm64')).not.toBe(uuidOf('x64'));
      expect(thrown(() => selectSlice(fat, 'ppc64', files.universal))).toMatchObject({ code: 'PLUGHOST_WRONG_ARCH', found: 'x64, arm64' });
      if (hostSlice !== null) expect(readBinary(fat, files.universal).gnuBuildId).toBe(uuidOf(hostSlice));
      else expect(thrown(() => readBinary(fat, files.universal)).code).toBe('PLUGHOST_WRONG_ARCH');
    });

    it.skipIf(tools['llvm-objdump'] === null)('reads LC_UUID as the build id, as llvm-objdump prints it', async () => {
      for (const arch of ARCHES) expect(await objdumpUuids(files[arch])).toEqual({ '': uuidOf(arch) });
      expect(await objdumpUuids(files.universal)).toEqual({ x86_64: uuidOf('x64'), arm64: uuidOf('arm64') });
    });

    it.skipIf(tools['llvm-readobj'] === null)('finds the descriptor where llvm-readobj says __DATA,__plughost is', async () => {
      for (const arch of ARCHES) {
        const { offset, size } = await readobjNoteSection(files[arch]);
        // One note: 12-byte header, "plughost\0" padded to 12, the 180-byte descriptor.
        expect(size).toBe(24 + 180);
        const desc = findDescriptorNote(readBinary(bytes(arch), files[arch]).notes, files[arch]);
        expect(Buffer.compare(bytes(arch).subarray(offset + 24, offset + size), desc)).toBe(0);
      }
    });
  });

  describe('inspectNative, verifyNative and checkPluginBytes', () => {
    it.each(ARCHES)('inspects the thin %s file without loading it', (arch) => {
      expect(inspectNative(files[arch])).toEqual({
        file: files[arch],
        size: bytes(arch).length,
        sha256: sha256(bytes(arch)),
        format: 'macho',
        bits: 64,
        arch,
        machine: CPU_TYPE[arch],
        kind: 'shared',
        gnuBuildId: uuidOf(arch),
        descriptor: expectedDescriptor,
        problem: null,
      });
    });

    it('inspects the universal file through the slice for this process', () => {
      if (hostSlice === null) {
        expect(thrown(() => inspectNative(files.universal)).code).toBe('PLUGHOST_WRONG_ARCH');
        return;
      }
      expect(inspectNative(files.universal)).toMatchObject({
        size: bytes('universal').length,
        sha256: sha256(bytes('universal')),
        arch: hostSlice,
        gnuBuildId: uuidOf(hostSlice),
        descriptor: expectedDescriptor,
        problem: null,
      });
    });

    it.each(ARCHES)('passes every pre-load check for the thin %s file on a darwin target of its arch', (arch) => {
      const expect_: Expectations = { buildId: BUILD_ID, sha256: sha256(bytes(arch)), apiVersion: HOST_API_VERSION, target: darwin(arch) };
      expect(verifyNative(files[arch], expect_)).toEqual({
        file: files[arch],
        sha256: sha256(bytes(arch)),
        descriptor: expectedDescriptor,
        arch,
        gnuBuildId: uuidOf(arch),
      });
      const checked = checkPluginBytes(bytes(arch), files[arch], expect_);
      expect(checked.binary).toMatchObject({ format: 'macho', arch, kind: 'shared' });
      expect(checked.descriptor).toEqual(expectedDescriptor);
    });

    it.each(ARCHES)('refuses the thin %s file on a darwin target of the other arch with PLUGHOST_WRONG_ARCH', (arch) => {
      const err = thrown(() => verifyNative(files[arch], { buildId: BUILD_ID, target: darwin(other(arch)) }));
      expect(err).toMatchObject({ code: 'PLUGHOST_WRONG_ARCH', found: `${arch} (little-endian)` });
      expect(err.expected).toContain(`darwin-${other(arch)}`);
    });

    it.each(ARCHES)('verifies the universal file on darwin-%s through that slice', (arch) => {
      const v = verifyNative(files.universal, { buildId: BUILD_ID, target: darwin(arch) });
      expect(v).toMatchObject({ arch, gnuBuildId: uuidOf(arch), descriptor: expectedDescriptor, sha256: sha256(bytes('universal')) });
    });

    it('refuses the universal file on a darwin arch it has no slice for', () => {
      const err = thrown(() => verifyNative(files.universal, { buildId: BUILD_ID, target: darwin('ppc64', { littleEndian: false }) }));
      expect(err).toMatchObject({ code: 'PLUGHOST_WRONG_ARCH', found: 'x64, arm64' });
    });

    // The checks after the machine's read the descriptor out of the real section.
    it.each([
      ['PLUGHOST_BUILD_ID_MISMATCH', { buildId: 'another-build' }],
      ['PLUGHOST_API_MISMATCH', { apiVersion: { major: HOST_API_VERSION.major + 1, minor: 0 } }],
      ['PLUGHOST_NAPI_TOO_NEW', { target: darwin('arm64', { napiVersion: NAPI_VERSION - 1 }) }],
      ['PLUGHOST_CHECKSUM_MISMATCH', { sha256: '0'.repeat(64) }],
    ] as const)('refuses with %s on a darwin target when the descriptor or pin does not fit', (code, override) => {
      const err = thrown(() => checkPluginBytes(bytes('universal'), files.universal, { buildId: BUILD_ID, target: darwin('arm64'), ...override }));
      expect(err.code).toBe(code);
    });

    it.runIf(process.platform !== 'darwin').each(FIXTURES)(
      'refuses the %s file on this host (default target) with PLUGHOST_WRONG_PLATFORM',
      (f) => {
        const err = thrown(() => verifyNative(files[f], { buildId: BUILD_ID }));
        expect(err).toMatchObject({ code: 'PLUGHOST_WRONG_PLATFORM', found: 'Mach-O' });
        expect(err.message).toContain(`Mach-O file cannot load on ${process.platform}`);
      },
    );
  });

  describe('CLI (dist/)', () => {
    const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      const env = { ...process.env };
      // A stack trace or an ambient release would change what is printed.
      delete env.PLUGHOST_DEBUG;
      delete env.PLUGHOST_BUILD_ID;
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: dir, env });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: unknown; stdout?: string; stderr?: string };
        if (typeof e.code !== 'number') throw err;
        return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    beforeAll(() => {
      if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build:ts\` first`);
    });

    it('inspect --json prints each file\'s descriptor without loading it', async () => {
      const shown = FIXTURES.filter((f) => f !== 'universal' || hostSlice !== null);
      const results = await Promise.all(shown.map((f) => cli(['inspect', files[f], '--json'])));
      results.forEach((r, i) => {
        const f = shown[i]!;
        expect(r).toMatchObject({ code: 0, stderr: '' });
        expect(JSON.parse(r.stdout)).toMatchObject({
          ok: true,
          file: files[f],
          format: 'macho',
          bits: 64,
          kind: 'shared',
          arch: f === 'universal' ? hostSlice : f,
          gnuBuildId: uuidOf(f === 'universal' ? hostSlice! : f),
          descriptor: expectedDescriptor,
          problem: null,
        });
      });
    });

    it.runIf(process.platform !== 'darwin')('verify --build-id exits 1 with PLUGHOST_WRONG_PLATFORM on one line, no stack', async () => {
      const results = await Promise.all(FIXTURES.map((f) => cli(['verify', files[f], '--build-id', BUILD_ID])));
      for (const r of results) {
        expect(r).toMatchObject({ code: 1, stdout: '' });
        expect(r.stderr).toMatch(new RegExp(`^plughost: PLUGHOST_WRONG_PLATFORM: [^\\n]*Mach-O file cannot load on ${process.platform}[^\\n]*\\n$`));
      }
    });
  });

  describe('prebuild resolution with darwin RuntimeFacts', () => {
    const prebuild = (pkg: string, sub: string): string => path.join(pkg, 'prebuilds', sub, `${NAME}.napi.node`);
    /** A plugin package whose prebuilds/<dir>/<name>.napi.node are the given fixtures. */
    const makePackage = (layout: Record<string, Fixture>): string => {
      const pkg = fs.mkdtempSync(path.join(dir!, 'package-'));
      for (const [sub, f] of Object.entries(layout)) {
        fs.mkdirSync(path.dirname(prebuild(pkg, sub)), { recursive: true });
        fs.copyFileSync(files[f], prebuild(pkg, sub));
      }
      return pkg;
    };
    const reasons = (pkg: string, candidates: readonly { file: string; reason: string }[]): Record<string, string> =>
      Object.fromEntries(candidates.map((c) => [path.relative(path.join(pkg, 'prebuilds'), path.dirname(c.file)), c.reason]));

    it.each(ARCHES)('darwin-%s: prefers the single-arch directory over the universal one', (arch) => {
      const pkg = makePackage({ 'darwin-arm64': 'arm64', 'darwin-x64': 'x64', 'darwin-x64+arm64': 'universal' });
      const resolved = resolvePrebuildDir(pkg, NAME, darwinFacts(arch));
      expect(resolved.file).toBe(prebuild(pkg, `darwin-${arch}`));
      expect(resolved.tuple).toEqual({ platform: 'darwin', arch, libc: null, napi: darwinFacts(arch).napi });
      const why = reasons(pkg, resolved.candidates);
      expect(why[`darwin-${arch}`]).toContain(`fits darwin-${arch} (tags: napi); plugin "${NAME}" ${expectedDescriptor.version}, Node-API ${NAPI_VERSION}`);
      expect(why[`darwin-${other(arch)}`]).toBe(`arch ${other(arch)}, this machine is ${arch}`);
    });

    // Facts of an arch other than this process's too: a universal file is judged by the slice of the arch resolved for.
    it.each(ARCHES)('darwin-%s: chooses the universal file when it is the only one', (arch) => {
      const pkg = makePackage({ 'darwin-x64+arm64': 'universal' });
      const resolved = resolvePrebuildDir(pkg, NAME, darwinFacts(arch));
      expect(resolved.file).toBe(prebuild(pkg, 'darwin-x64+arm64'));
      expect(resolved.candidates).toHaveLength(1);
      expect(resolved.candidates[0]!.reason).toContain(`fits darwin-${arch}`);
    });

    it.each(ARCHES)('darwin-%s: rejects a thin file of the other arch filed under this arch, saying why', (arch) => {
      const pkg = makePackage({ [`darwin-${arch}`]: other(arch) });
      const err = thrown(() => resolvePrebuildDir(pkg, NAME, darwinFacts(arch))) as NoPrebuildError;
      expect(err).toBeInstanceOf(NoPrebuildError);
      const reason = `filed under darwin-${arch} but the binary is ${other(arch)} code`;
      expect(err.candidates).toEqual([{ file: prebuild(pkg, `darwin-${arch}`), accepted: false, reason }]);
      expect(err.message).toContain(`prebuilds/darwin-${arch}/${NAME}.napi.node: ${reason}`);
    });
  });
});
