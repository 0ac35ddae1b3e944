// The written contracts (header, docs) and the code agree.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { DESCRIPTOR_SIZE, HOST_API_VERSION, NOTE_OWNER, NOTE_TYPE_DESCRIPTOR } from '../../src/native/descriptor.js';
import { DESCRIPTOR_EXPORT_KEY } from '../../src/native/load.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');
const header = read('native/include/plughost.h');
const define = (name: string): string => {
  const m = new RegExp(`#define ${name} (.+)`).exec(header);
  if (m === null) throw new Error(`${name} not in plughost.h`);
  return m[1]!.trim();
};

describe('plughost.h and the TypeScript loader', () => {
  it('agree on the plugin API version, note owner, type, size and export key', () => {
    expect(Number(define('PLUGHOST_API_MAJOR'))).toBe(HOST_API_VERSION.major);
    expect(Number(define('PLUGHOST_API_MINOR'))).toBe(HOST_API_VERSION.minor);
    expect(define('PLUGHOST_NOTE_OWNER')).toBe(`"${NOTE_OWNER}"`);
    expect(Number.parseInt(define('PLUGHOST_NOTE_TYPE_DESCRIPTOR'), 16)).toBe(NOTE_TYPE_DESCRIPTOR);
    expect(define('PLUGHOST_EXPORT_KEY')).toBe(`"${DESCRIPTOR_EXPORT_KEY}"`);
    expect(header).toContain(`sizeof(plughost_descriptor) == ${DESCRIPTOR_SIZE}`);
  });
});

describe('docs/errors.md', () => {
  it('documents every error code the code can raise, and no other plughost code', () => {
    const codesInSource = new Set([...read('src/errors.ts').matchAll(/'(PLUGHOST_[A-Z_]+)'/g)].map((m) => m[1]!));
    const docs = read('docs/errors.md');
    const codesInDocs = new Set([...docs.matchAll(/^\| `(PLUGHOST_[A-Z_]+)`/gm)].map((m) => m[1]!));
    for (const code of codesInSource) expect(codesInDocs, code).toContain(code);
    // Codes thrown by plugins through plughost's headers, documented separately.
    const pluginCodes = new Set(['PLUGHOST_PLUGIN_EXCEPTION', 'PLUGHOST_INVALID_ARGUMENT', 'PLUGHOST_UNKNOWN_METHOD', 'PLUGHOST_CANCELLED']);
    for (const code of codesInDocs) expect(codesInSource.has(code) || pluginCodes.has(code), code).toBe(true);
  });
});

describe('src/protocol/descriptor.ts', () => {
  it('is generated from the current proto/ files', async () => {
    const { execFileSync } = await import('node:child_process');
    expect(() => execFileSync(process.execPath, [path.join(root, 'scripts/gen-protocol.mjs'), '--check'])).not.toThrow();
  });
});
