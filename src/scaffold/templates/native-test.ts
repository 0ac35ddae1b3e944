// The generated test of a native plugin: load it through the host, call it.
import type { TemplateContext } from './common.js';

export function nativeTest(ctx: TemplateContext, badInputCode: string): string {
  return `import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createHost } from 'plughost';

const file = (rel) => fileURLToPath(new URL(\`../\${rel}\`, import.meta.url));

// The host accepts only plugins of its own build: use the ID plughost build stamped.
function buildId() {
  if (process.env.PLUGHOST_BUILD_ID) return process.env.PLUGHOST_BUILD_ID;
  try {
    return JSON.parse(fs.readFileSync(file('dist/build-info.json'), 'utf8')).buildId;
  } catch {
    throw new Error('no dist/build-info.json: build first with npm run build (plughost build)');
  }
}

test('${ctx.name} is verified, loaded and answers', () => {
  const host = createHost({ buildId: buildId() });
  const plugin = host.loadNative(file('build/Release/${ctx.name}.node'));
  assert.equal(plugin.name, '${ctx.name}');
  assert.deepEqual([...plugin.methodNames], ['hello']);
  const { hello } = plugin.methods;
  assert.equal(hello('world'), 'hello, world');
  assert.throws(() => hello(42), { code: '${badInputCode}' });
});
`;
}
