// Removes compiled files in dist/ whose TypeScript source is gone. tsc never
// deletes outputs, so a removed or renamed module would otherwise live on in
// dist/ — and in the npm package, which ships dist/src/.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;

function prune(dir) {
  let removed = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      removed += prune(file);
      if (fs.readdirSync(file).length === 0) fs.rmdirSync(file);
      continue;
    }
    if (!OUTPUT.test(entry.name)) continue;
    const source = path.join(root, path.relative(dist, file)).replace(OUTPUT, '.ts');
    if (!fs.existsSync(source)) {
      fs.rmSync(file);
      removed++;
    }
  }
  return removed;
}

// Only the trees tsc writes from sources (dist/fixtures holds built test binaries).
let removed = 0;
for (const tree of ['src', 'bench', 'examples', 'plugins-dynamic', 'test']) {
  const dir = path.join(dist, tree);
  if (fs.existsSync(dir)) removed += prune(dir);
}
if (removed > 0) console.log(`prune-dist: removed ${removed} stale file(s) from dist/`);
