// `plughost new dynamic NAME --lang python`: a subprocess plugin on plughost's Python SDK.
import { gitignore, packageJson, readme, type ProjectFiles, type TemplateContext } from './common.js';

export function dynamicPython(ctx: TemplateContext): ProjectFiles {
  return {
    'package.json': packageJson(ctx, {
      description: `${ctx.name}: a plughost dynamic plugin in Python`,
      files: [`${ctx.name}.py`],
      scripts: { build: 'plughost build', test: 'node --test test/' },
      plugins: [{ name: ctx.name, kind: 'dynamic', path: `${ctx.name}.py`, command: ['python3', '{path}'] }],
    }),
    [`${ctx.name}.py`]: `#!/usr/bin/env python3
"""${ctx.name}: a plughost dynamic plugin.  hello(b"you") -> b"hello, you"

Runs as a subprocess of the host; log to stderr, never to stdout. plughost
puts its SDK (plughost_plugin) on PYTHONPATH; Python needs grpc (Debian:
python3-grpcio).
"""
from plughost_plugin import PluginError, serve


def hello(payload: bytes, ctx) -> bytes:
    if not payload:
        raise PluginError("HELLO_EMPTY", "hello needs a name")
    return b"hello, " + payload


if __name__ == "__main__":
    serve(name="${ctx.name}", version="1.0.0", methods={"hello": hello})
`,
    [`test/${ctx.name}.test.js`]: `import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createHost, silentLogger } from 'plughost';

const host = createHost({ logger: silentLogger });
after(() => host.close());

test('${ctx.name} starts as a subprocess and answers', async () => {
  const entry = fileURLToPath(new URL('../${ctx.name}.py', import.meta.url));
  // "python3": the Python plughost finds with grpc (PLUGHOST_PYTHON, /usr/bin/python3, PATH), its SDK on PYTHONPATH.
  const plugin = await host.loadDynamic({ name: '${ctx.name}', command: ['python3', entry] });
  assert.deepEqual(plugin.methods.map((m) => m.name), ['hello']);
  const out = await plugin.call('hello', Buffer.from('world'));
  assert.equal(Buffer.from(out).toString('utf8'), 'hello, world');
  await assert.rejects(plugin.call('hello', Buffer.alloc(0)), { code: 'HELLO_EMPTY' });
});
`,
    '.gitignore': gitignore(['__pycache__/']),
    'README.md': readme(
      ctx,
      'A plughost dynamic (subprocess, gRPC) plugin in Python.',
      ['npm install', `npm test           # starts ${ctx.name}.py through createHost().loadDynamic`],
      "Python needs `grpc` (Debian: `apt-get install python3-grpcio`). plughost runs\n" +
        'the plugin with a Python that has it and puts its own SDK (`plughost_plugin`) on\n' +
        '`PYTHONPATH`; to use the SDK elsewhere, `pip install node_modules/plughost/plugins-dynamic/python`.',
    ),
  };
}
