# plughost's node-gyp build: the subprocess exec helper, and the example
# plugins that build with node-gyp. (Plugins that build with cmake-js have a
# CMakeLists.txt in their own folder.)
{
  'targets': [
    {
      # Not an addon: a tiny program the host runs plugins through (native/exec/).
      'target_name': 'plughost-exec',
      'type': 'executable',
      'sources': ['native/exec/plughost-exec.c'],
      'cflags': ['-Wall', '-Wextra', '-Werror', '-O2'],
      'xcode_settings': { 'OTHER_CFLAGS': ['-Wall', '-Wextra', '-Werror'] },
    },
    {
      'target_name': 'crc32',
      'includes': ['native/plughost.gypi'],
      'sources': ['plugins-native/crc32/crc32.c'],
    },
  ],
}
