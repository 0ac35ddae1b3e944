// The generated test of a native plugin: load it through the host, call it.
import type { TemplateContext } from './common.js';

export function nativeTest(ctx: TemplateContext, badInputCode: string): string {
  return `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createHost } from 'plughost';

test('${ctx.name} is verified, loaded and answers', () => {
  // The host expects this project's build ID (manifest.json, written by npm run build): no option needed.
  const host = createHost();
  const plugin = host.loadNative(fileURLToPath(new URL('../build/Release/${ctx.name}.node', import.meta.url)));
  assert.equal(plugin.name, '${ctx.name}');
  assert.deepEqual([...plugin.methodNames], ['hello']);
  const { hello } = plugin.methods;
  assert.equal(hello('world'), 'hello, world');
  assert.throws(() => hello(42), { code: '${badInputCode}' });
});
`;
}
