// `plughost new dynamic NAME --lang ts`: a subprocess plugin on plughost/sdk.
import { gitignore, packageJson, readme, type ProjectFiles, type TemplateContext } from './common.js';

export function dynamicTs(ctx: TemplateContext): ProjectFiles {
  return {
    'package.json': packageJson(ctx, {
      description: `${ctx.name}: a plughost dynamic plugin in TypeScript`,
      files: ['dist/'],
      scripts: { build: 'plughost build', test: 'node --test test/' },
      devDependencies: { '@types/node': '^20.0.0', typescript: '^5.0.0' },
      // plughost build runs tsc first, then describes the plugin into manifest.json.
      plugins: [{ name: ctx.name, kind: 'dynamic', path: `dist/${ctx.name}.js`, command: ['node', '{path}'], build: ['tsc', '-p', 'tsconfig.json'] }],
    }),
    'tsconfig.json':
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            types: ['node'],
            skipLibCheck: true,
            rootDir: 'src',
            outDir: 'dist',
          },
          include: ['src'],
        },
        null,
        2,
      ) + '\n',
    [`src/${ctx.name}.ts`]: `// ${ctx.name}: a plughost dynamic plugin.  hello("you") -> "hello, you"
// Runs as a subprocess of the host; log to stderr, never to stdout.
import { PluginError, serve } from 'plughost/sdk';

await serve({
  name: '${ctx.name}',
  version: '1.0.0',
  methods: {
    // Bytes in, bytes out; may be async. A PluginError's code reaches the caller.
    hello: (payload) => {
      if (payload.length === 0) throw new PluginError('HELLO_EMPTY', 'hello needs a name');
      return Buffer.from(\`hello, \${Buffer.from(payload).toString('utf8')}\`);
    },
  },
});
`,
    [`test/${ctx.name}.test.js`]: `import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createHost, silentLogger } from 'plughost';

const host = createHost({ logger: silentLogger });
after(() => host.close());

test('${ctx.name} starts as a subprocess and answers', async () => {
  const entry = fileURLToPath(new URL('../dist/${ctx.name}.js', import.meta.url));
  const plugin = await host.loadDynamic({ name: '${ctx.name}', command: ['node', entry] });
  assert.deepEqual(plugin.methods.map((m) => m.name), ['hello']);
  const out = await plugin.call('hello', Buffer.from('world'));
  assert.equal(Buffer.from(out).toString('utf8'), 'hello, world');
  await assert.rejects(plugin.call('hello', Buffer.alloc(0)), { code: 'HELLO_EMPTY' });
});
`,
    '.gitignore': gitignore(),
    'README.md': readme(ctx, 'A plughost dynamic (subprocess, gRPC) plugin in TypeScript.', [
      'npm install',
      'npm run build      # plughost build: tsc (src/ -> dist/), then manifest.json',
      `npm test           # starts dist/${ctx.name}.js through createHost().loadDynamic`,
    ]),
  };
}
