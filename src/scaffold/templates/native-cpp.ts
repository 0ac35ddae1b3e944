// `plughost new native NAME --lang cpp`: a C++ (node-addon-api) plugin built with cmake-js.
import { gitignore, packageJson, readme, type ProjectFiles, type TemplateContext } from './common.js';
import { nativeTest } from './native-test.js';

export function nativeCpp(ctx: TemplateContext): ProjectFiles {
  return {
    'package.json': packageJson(ctx, {
      description: `${ctx.name}: a plughost native plugin in C++`,
      files: ['prebuilds/', 'CMakeLists.txt', 'src/'],
      scripts: { build: 'plughost build', test: 'node --test test/' },
      // Only where the plugin is built: an app that loads it needs no compiler tools.
      devDependencies: { 'cmake-js': ctx.toolRanges['cmake-js'] },
      // cmake-js builds against the Node-API headers it ships for these versions: nothing is downloaded.
      binary: { napi_versions: [8] },
      plugins: [{ name: ctx.name, builder: 'cmake-js', dir: '.', output: `build/Release/${ctx.name}.node` }],
    }),
    'CMakeLists.txt': `cmake_minimum_required(VERSION 3.15)
project(${ctx.name} LANGUAGES CXX)

# plughost's directory, found the way Node finds it (node_modules/plughost);
# or pass -DPLUGHOST_DIR=... to cmake-js.
if(NOT PLUGHOST_DIR)
  execute_process(
    COMMAND node -p "require('path').dirname(require.resolve('plughost/package.json'))"
    WORKING_DIRECTORY "\${CMAKE_CURRENT_SOURCE_DIR}"
    RESULT_VARIABLE _rc
    OUTPUT_VARIABLE PLUGHOST_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "plughost not found: run npm install")
  endif()
endif()
include("\${PLUGHOST_DIR}/native/plughost.cmake")

plughost_add_plugin(${ctx.name} SOURCES src/${ctx.name}.cpp CXX)
`,
    [`src/${ctx.name}.cpp`]: `// ${ctx.name}: a plughost native plugin.  hello("you") -> "hello, you"
#include "plughost.hpp"

#include <stdexcept>
#include <string>

static Napi::Value Hello(const Napi::CallbackInfo& info) {
  // Any C++ exception becomes a JS error (code PLUGHOST_PLUGIN_EXCEPTION): none reaches Node.
  if (info.Length() < 1 || !info[0].IsString()) throw std::invalid_argument("hello(name) takes a string");
  return Napi::String::New(info.Env(), "hello, " + info[0].As<Napi::String>().Utf8Value());
}

static const plughost_method methods[] = {
    PLUGHOST_METHOD("hello", Hello),
};
PLUGHOST_PLUGIN("${ctx.name}", "1.0.0", methods, nullptr)
`,
    [`test/${ctx.name}.test.js`]: nativeTest(ctx, 'PLUGHOST_PLUGIN_EXCEPTION'),
    '.gitignore': gitignore(),
    'README.md': readme(ctx, 'A plughost native (in-process) plugin in C++ (node-addon-api), built with cmake-js.', [
      'npm install',
      'npm run build      # plughost build: cmake-js with one build ID, then manifest.json',
      'npm test           # loads build/Release/' + ctx.name + '.node through createHost().loadNative',
    ]),
  };
}
