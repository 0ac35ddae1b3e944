// The example plugins of this repository as its last `plughost build` (npm
// install) recorded them in manifest.json.
import fs from 'node:fs';
import path from 'node:path';

export interface Built {
  readonly buildId: string;
  /** The absolute path of a native plugin the build made. */
  file(name: string): string;
}

export function builtPlugins(root: string): Built {
  const file = path.join(root, 'manifest.json');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm install does)`);
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { buildId: string; plugins: Array<{ name: string; path?: string }> };
  return {
    buildId: manifest.buildId,
    file(name) {
      const entry = manifest.plugins.find((p) => p.name === name);
      if (entry?.path === undefined) throw new Error(`${name} is not in ${file}`);
      return path.join(root, entry.path);
    },
  };
}
