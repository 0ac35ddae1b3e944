// The house rules of docs/architecture.md, checked on the source tree: the
// layering (dependency-cruiser, .dependency-cruiser.cjs), no cycle between
// files or between folders, small files, a thin CLI and a small root face.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const src = path.join(root, 'src');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
const sources = walk(src).filter((f) => f.endsWith('.ts'));
const lines = (file: string): number => fs.readFileSync(file, 'utf8').split('\n').length - 1;

/** `dynamic` for src/dynamic/x.ts; a root file is its own node (`host.ts`). */
const folderOf = (file: string): string => {
  const rel = file.replace(/^src\//, '');
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel;
};

describe('the house', () => {
  let result: ICruiseResult;
  beforeAll(async () => {
    const config = createRequire(import.meta.url)(path.join(root, '.dependency-cruiser.cjs'));
    const previous = process.cwd();
    process.chdir(root);
    try {
      const cruised = await cruise(['src'], { ruleSet: { forbidden: config.forbidden }, validate: true, ...config.options });
      result = cruised.output as ICruiseResult;
    } finally {
      process.chdir(previous);
    }
  }, 60_000);

  it('keeps every layering rule and has no file-level import cycle', () => {
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
    expect(violations).toEqual([]);
    // The rules can only hold if the tree was really read.
    expect(result.summary.totalCruised).toBeGreaterThan(100);
  });

  it('has no import cycle between folders of src/', () => {
    const edges = new Map<string, Set<string>>();
    for (const m of result.modules) {
      if (!m.source.startsWith('src/')) continue;
      for (const d of m.dependencies) {
        if (!d.resolved.startsWith('src/') || folderOf(m.source) === folderOf(d.resolved)) continue;
        const from = folderOf(m.source);
        // The public entries re-export from below; they are the top, not a folder member.
        if (m.source === 'src/metrics/index.ts') continue;
        (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(folderOf(d.resolved));
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, trail: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
        return;
      }
      state.set(node, 'open');
      for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
    expect(edges.size).toBeGreaterThan(10);
  });

  it('keeps every file in src/ under 400 lines', () => {
    const long = sources.filter((f) => lines(f) > 400).map((f) => `${path.relative(root, f)}: ${lines(f)} lines`);
    expect(long).toEqual([]);
  });

  it('keeps every CLI command under 80 lines', () => {
    const commands = sources.filter((f) => f.includes(`${path.sep}cli${path.sep}commands${path.sep}`));
    expect(commands.length).toBeGreaterThanOrEqual(9);
    expect(commands.filter((f) => lines(f) >= 80).map((f) => `${path.basename(f)}: ${lines(f)} lines`)).toEqual([]);
  });

  it('puts platform-specific code in files named for their platform', () => {
    const named = /\.(linux|darwin)\.ts$/;
    const branches = sources
      .filter((f) => !f.includes(`${path.sep}platform${path.sep}`))
      .filter((f) => /process\.platform\s*[!=]==?\s*'(linux|darwin|win32)'|['`]\/proc\//.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(root, f));
    expect(branches).toEqual([]);
    expect(sources.some((f) => named.test(f))).toBe(true);
  });

  it('exports at most 20 values from the root entry, and the tooling and metrics from their own', async () => {
    const rootEntry = await import('../../src/index.js');
    const values = Object.keys(rootEntry);
    expect(values.length).toBeLessThanOrEqual(20);
    expect(values).toContain('createHost');
    const tools = await import('../../src/tools.js');
    const metrics = await import('../../src/metrics/index.js');
    for (const name of ['buildProject', 'packBundle', 'verifyDeploy', 'prebuildPackage', 'scaffold', 'inspectNative', 'verifyPluginFile', 'listManifest']) {
      expect(Object.keys(tools)).toContain(name);
      expect(values).not.toContain(name);
    }
    expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['HostMetrics', 'instrumentNative']));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './tools', './metrics', './sdk']));
  });
});
