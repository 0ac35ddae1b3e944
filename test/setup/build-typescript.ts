// Builds dist/ from the TypeScript sources before any test runs. Tests that
// start a subprocess run compiled code — the CLI (dist/src/cli/main.js), the
// SDK plugins, the fixture plugin, the isolation runner — so without this,
// `npx vitest run` after an edit to src/ would test whatever an earlier build
// left in dist/. Incremental (the build info lives in dist/, so deleting
// dist/ forces a full build): an unchanged tree costs a second or two.
// Listed first in vitest.config.ts: the setups after it may use dist/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const buildInfo = path.join(root, 'dist/.tsbuildinfo');

/**
 * A source whose output is missing from dist/ (deleted by hand, say): tsc
 * --incremental trusts its build info and would not emit it again. Sources
 * are the tsconfig's `dir/**\/*.ts` includes.
 */
function missingOutput(): string | undefined {
  const include = (JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8')) as { include?: string[] }).include ?? [];
  const walk = (dir: string): string | undefined => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules' || entry.name === 'build' || entry.name.startsWith('.')) continue;
        const missing = walk(rel);
        if (missing !== undefined) return missing;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!fs.existsSync(out)) return out;
      }
    }
    return undefined;
  };
  for (const pattern of include) {
    const dir = /^(.+)\/\*\*\/\*\.ts$/.exec(pattern)?.[1];
    if (dir === undefined || !fs.existsSync(path.join(root, dir))) continue;
    const missing = walk(dir);
    if (missing !== undefined) return missing;
  }
  return undefined;
}

export default function setup(): void {
  // Outputs of deleted sources would still be importable from dist/: remove them first.
  spawnSync(process.execPath, [path.join(root, 'scripts/prune-dist.mjs')], { cwd: root, stdio: 'inherit' });
  if (fs.existsSync(buildInfo) && missingOutput() !== undefined) fs.rmSync(buildInfo);
  const args = [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', buildInfo, '--pretty', 'false'];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 170_000 });
  if (run.error !== undefined) throw new Error(`could not run the TypeScript compiler (${tsc}): ${run.error.message}`);
  if (run.status !== 0) {
    const output = `${run.stdout}${run.stderr}`.trim();
    throw new Error(
      `the TypeScript build failed (node ${path.relative(root, tsc)} -p tsconfig.json exited ${run.status ?? run.signal}), ` +
        `so no test ran: subprocess tests run dist/, which must match src/.\n${output}`,
    );
  }
}
