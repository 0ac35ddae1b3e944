// Builds the native bad-input corpus from test/fixtures/native before the
// tests run: compiled fixtures via node-gyp, plus files derived from them
// (truncated, patched headers). Nothing binary is committed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

import { findNodeHeaders } from '../../src/build/node-headers.js';
import { runTool } from '../../src/build/run-tool.js';

export const FIXTURE_BUILD_ID = 'fixture-build';

export interface NativeFixtures {
  /** Compiled fixtures: `${built}/<target>.node`. */
  built: string;
  /** Derived corpus files. */
  corpus: string;
  buildId: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    nativeFixtures: NativeFixtures;
  }
}

const root = path.resolve(import.meta.dirname, '../..');
const fixtureDir = path.join(root, 'test/fixtures/native');
const builtDir = path.join(fixtureDir, 'build/Release');

function sourceHash(): string {
  const hash = createHash('sha256');
  const inputs = [
    ...fs.readdirSync(fixtureDir).filter((f) => /\.(c|h|gyp)$/.test(f)).map((f) => path.join(fixtureDir, f)),
    path.join(root, 'native/plughost.gypi'),
    path.join(root, 'native/include/plughost.h'),
  ].sort();
  for (const file of inputs) hash.update(file).update(fs.readFileSync(file));
  return hash.digest('hex');
}

async function buildFixtures(): Promise<void> {
  const stamp = path.join(fixtureDir, 'build/.sources-sha256');
  const want = sourceHash();
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  const headers = findNodeHeaders();
  const args = [path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'), 'rebuild', '--jobs=max'];
  if (headers?.nodedir) args.push(`--nodedir=${headers.nodedir}`);
  await runTool('node-gyp (test fixtures)', args, {
    cwd: fixtureDir,
    env: { ...process.env, PLUGHOST_BUILD_ID: FIXTURE_BUILD_ID },
  });
  fs.writeFileSync(stamp, want);
}

// ELF header offsets (64-bit): e_ident[EI_CLASS] at 4, e_machine at 18.
const EI_CLASS = 4;
const E_MACHINE = 18;
const EM_AARCH64 = 183;

function writeCorpus(dir: string): void {
  const good = fs.readFileSync(path.join(builtDir, 'good.node'));
  fs.writeFileSync(path.join(dir, 'empty.node'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'truncated-header.node'), good.subarray(0, 40));
  // Headers and the descriptor intact, code and data cut off: dlopen would fail late.
  fs.writeFileSync(path.join(dir, 'truncated-body.node'), good.subarray(0, 4096));
  fs.writeFileSync(path.join(dir, 'not-elf.node'), 'this is a text file, not a plugin\n');
  fs.mkdirSync(path.join(dir, 'directory.node'));

  const elf32 = Buffer.from(good);
  elf32[EI_CLASS] = 1; // ELFCLASS32
  fs.writeFileSync(path.join(dir, 'elf32.node'), elf32);

  const otherArch = Buffer.from(good);
  otherArch.writeUInt16LE(EM_AARCH64, E_MACHINE);
  fs.writeFileSync(path.join(dir, 'other-arch.node'), otherArch);

  // A Mach-O 64-bit x86_64 bundle header: right arch, wrong platform on Linux.
  const macho = Buffer.alloc(32);
  macho.writeUInt32LE(0xfeedfacf, 0);
  macho.writeUInt32LE(0x01000007, 4);
  macho.writeUInt32LE(3, 8);
  macho.writeUInt32LE(8, 12); // MH_BUNDLE
  fs.writeFileSync(path.join(dir, 'macho.node'), macho);
}

export default async function setup(project: TestProject): Promise<() => void> {
  await buildFixtures();
  const corpus = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-corpus-'));
  writeCorpus(corpus);
  project.provide('nativeFixtures', { built: builtDir, corpus, buildId: FIXTURE_BUILD_ID });
  return () => fs.rmSync(corpus, { recursive: true, force: true });
}
