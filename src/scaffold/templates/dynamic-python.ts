// `plughost new dynamic NAME --lang python`: a subprocess plugin on plughost's Python SDK.
import { gitignore, packageJson, readme, type ProjectFiles, type TemplateContext } from './common.js';

export function dynamicPython(ctx: TemplateContext): ProjectFiles {
  return {
    'package.json': packageJson(ctx, {
      description: `${ctx.name}: a plughost dynamic plugin in Python`,
      scripts: { test: 'node --test test/' },
      plugins: [{ name: ctx.name, kind: 'dynamic', path: `${ctx.name}.py`, command: ['python3', '{path}'] }],
    }),
    [`${ctx.name}.py`]: `#!/usr/bin/env python3
"""${ctx.name}: a plughost dynamic plugin.  hello(b"you") -> b"hello, you"

Runs as a subprocess of the host; log to stderr, never to stdout. Needs
plughost's SDK on PYTHONPATH (node_modules/plughost/plugins-dynamic/python)
and Python's grpc (Debian: python3-grpcio).
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
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createHost, silentLogger } from 'plughost';

// plughost's Python SDK ships in its package.
const plughostDir = path.dirname(createRequire(import.meta.url).resolve('plughost/package.json'));
const sdk = path.join(plughostDir, 'plugins-dynamic', 'python');

// A Python that can import grpc, tried in plughost's own order.
function python() {
  for (const candidate of [process.env.PLUGHOST_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ['-c', 'import grpc'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  throw new Error('no Python 3 with grpc: install python3-grpcio, or set PLUGHOST_PYTHON');
}

const host = createHost({ logger: silentLogger });
after(() => host.close());

test('${ctx.name} starts as a subprocess and answers', async () => {
  const entry = fileURLToPath(new URL('../${ctx.name}.py', import.meta.url));
  const PYTHONPATH = [sdk, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const plugin = await host.loadDynamic({ name: '${ctx.name}', command: [python(), entry], env: { PYTHONPATH } });
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
      "Python needs `grpc` (Debian: `apt-get install python3-grpcio`) and plughost's SDK\n" +
        'on `PYTHONPATH`: `node_modules/plughost/plugins-dynamic/python` (the test sets it).',
    ),
  };
}
