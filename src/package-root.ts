// Where plughost's own files are, whether running from src/ (tests) or dist/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'plughost') {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('plughost: cannot find its own package.json');
    dir = parent;
  }
}

/** plughost's own version (its package.json). */
export function plughostVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The benchmark runner, which exists in a plughost checkout (built), not in the npm package; null there. */
export function benchmarkScript(): string | null {
  const script = path.join(packageRoot(), 'dist', 'bench', 'main.js');
  return fs.existsSync(script) ? script : null;
}
