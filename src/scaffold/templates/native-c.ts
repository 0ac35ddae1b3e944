// `plughost new native NAME --lang c`: a C plugin built with node-gyp.
import { gitignore, packageJson, readme, type ProjectFiles, type TemplateContext } from './common.js';
import { nativeTest } from './native-test.js';

export function nativeC(ctx: TemplateContext): ProjectFiles {
  return {
    'package.json': packageJson(ctx, {
      description: `${ctx.name}: a plughost native plugin in C`,
      // plughost build runs node-gyp with the release's build ID; npm must not run it on install.
      gypfile: false,
      files: ['prebuilds/', 'binding.gyp', 'src/'],
      scripts: { build: 'plughost build', test: 'node --test test/' },
      // Only where the plugin is built: an app that loads it needs no compiler tools.
      devDependencies: { 'node-gyp': ctx.toolRanges['node-gyp'] },
      plugins: [{ name: ctx.name, builder: 'node-gyp', dir: '.', output: `build/Release/${ctx.name}.node` }],
    }),
    'binding.gyp': `# plughost.gypi adds plughost.h, the build ID, a pinned Node-API version and the flags.
{
  'targets': [
    {
      'target_name': '${ctx.name}',
      'includes': ['${ctx.gypi}'],
      'sources': ['src/${ctx.name}.c'],
    },
  ],
}
`,
    [`src/${ctx.name}.c`]: `/* ${ctx.name}: a plughost native plugin.  hello("you") -> "hello, you" */
#include "plughost.h"

#include <stdio.h>

static napi_value hello(napi_env env, napi_callback_info info) {
  size_t argc = 1, length = 0;
  napi_value argv[1], result;
  char name[256], out[300];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok)
    return plughost_throw(env, "PLUGHOST_INVALID_ARGUMENT", "hello(name) takes a string");
  int n = snprintf(out, sizeof out, "hello, %s", name);
  if (napi_create_string_utf8(env, out, (size_t)n, &result) != napi_ok) return NULL;
  return result;
}

static const plughost_method methods[] = {
  { "hello", hello },
};
PLUGHOST_PLUGIN("${ctx.name}", "1.0.0", methods, NULL)
`,
    [`test/${ctx.name}.test.js`]: nativeTest(ctx, 'PLUGHOST_INVALID_ARGUMENT'),
    '.gitignore': gitignore(),
    'README.md': readme(ctx, 'A plughost native (in-process) plugin in C, built with node-gyp.', [
      'npm install',
      'npm run build      # plughost build: node-gyp with one build ID, then manifest.json',
      'npm test           # loads build/Release/' + ctx.name + '.node through createHost().loadNative',
    ]),
  };
}
